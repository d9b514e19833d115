"""A consent receipt says when the consent was last given or withdrawn."""

from __future__ import annotations

import time
from uuid import uuid4

from domain.consent import POLICIES, Consent, Purpose


def test_the_receipt_of_a_revoked_or_regranted_consent_carries_that_change_s_time() -> None:
    purpose = Purpose.treatment
    consent = Consent.grant_new(uuid4(), purpose, POLICIES[purpose].version, "web")
    granted = consent.receipt()["recorded_at"]
    assert granted == consent.created_on.isoformat()

    time.sleep(0.002)
    consent.revoke("web")
    revoked = consent.receipt()
    assert revoked["status"] == "revoked"
    assert revoked["recorded_at"] == consent.modified_on.isoformat()
    assert revoked["recorded_at"] > granted

    time.sleep(0.002)
    consent.grant(POLICIES[purpose].version, "phone")
    regranted = consent.receipt()
    assert regranted["status"] == "active"
    assert regranted["recorded_at"] > revoked["recorded_at"]
    assert [e.timestamp.isoformat() for e in consent.collect_events()][-1] == \
        regranted["recorded_at"]
