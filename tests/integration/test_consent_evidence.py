"""Consent evidence anyone can check (issue "Compliance officers", item 5): receipts signed
with the audit key verify offline with the published key (the documented script), still
verify after a key rotation, tell a withdrawn consent; every policy text stays readable by
digest; a booking shows the consents in force when it was made."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from commands.consents import Receipt
from commands.context import Actor
from domain.access import Role
from domain.consent import POLICIES, Purpose
from infra.crypto.audit_keys import AuditSigner
from infra.crypto.receipts import Ed25519Receipts
from infra.wiring.audit import audit_signer
from infra.wiring.container import Container
from tests.builders import ALL_DAY, build_world, first_slot, rules
from tests.driver import drive

SCRIPT = Path(__file__).parents[2] / "docs" / "compliance" / "verify_receipt.py"


def _offline(receipt: dict[str, Any], tmp_path: Path,
             *keys: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *keys],
                          capture_output=True, text=True, timeout=60)


def test_a_receipt_verifies_offline_with_the_published_key(
        client: TestClient, container: Container, tmp_path: Path) -> None:
    app = drive(container)
    patient = app.ready_patient("Vera", "Fy", "vera@example.org")
    receipt = container.use_cases.consents.receipts(patient, Actor("desk", Role.front_desk))[0]
    keys = client.get("/consent-receipts/keys").json()["keys"]
    assert keys == [audit_signer(container.settings).verifier_key()]
    key_file = tmp_path / "verifier.keys"
    key_file.write_text("\n".join(keys))
    ok = _offline(receipt.model_dump(), tmp_path, str(key_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("valid: treatment consent active")
    forged = {**receipt.model_dump(), "receipt": {**receipt.receipt, "status": "revoked"}}
    bad = _offline(forged, tmp_path, keys[0])
    assert bad.returncode == 1 and bad.stdout.startswith("INVALID")
    stranger = AuditSigner(b"s" * 32, "someone-else").verifier_key()
    assert _offline(receipt.model_dump(), tmp_path, stranger).returncode == 1

    text = client.get(f"/consent-policies/{receipt.receipt['policy_sha256']}")
    assert text.status_code == 200 and text.json()["text"] == POLICIES[Purpose.treatment].text
    assert client.get(f"/consent-policies/{'0' * 64}").status_code == 404


def test_receipts_signed_before_a_key_rotation_still_verify(
        container: Container, tmp_path: Path) -> None:
    old = AuditSigner(b"o" * 32, "clinic-booking")
    new = AuditSigner(b"n" * 32, "clinic-booking-2027")
    receipt = {"consent_id": "c", "patient_id": "p", "purpose": "treatment",
               "status": "active", "policy_version": "2026-11-01", "policy_sha256": "00",
               "method": "web", "recorded_at": "2026-12-01T10:00:00+00:00", "version": 1}
    signature = Ed25519Receipts(old).sign(receipt)
    assert signature.key_id == old.key_id.hex()
    assert Ed25519Receipts(new, [old.verifier_key()]).verify(receipt, signature)
    assert not Ed25519Receipts(new).verify(receipt, signature)  # the old key not trusted
    document = {"receipt": receipt, "key_id": signature.key_id, "signature": signature.value}
    assert _offline(document, tmp_path, new.verifier_key(), old.verifier_key()).returncode == 0


def test_a_booking_shows_the_consent_in_force_when_it_was_made(
        container: Container, client: TestClient, token_for: Any) -> None:
    app = drive(container)
    world = build_world(app)
    doctor, clinic = world.second_provider, world.second_clinic
    app.publish_availability(doctor, clinic, rules(ALL_DAY, min_notice_minutes=0))
    patient = app.ready_patient("Cons", "Ent", "consent@example.org")
    slot = first_slot(app, doctor, clinic, world.checkup, datetime.now(UTC) + timedelta(days=2))
    visit = app.book(patient, slot, "", datetime.now(UTC)).id
    consents = container.use_cases.consents
    desk = Actor("desk", Role.front_desk)
    consents.revoke(patient, Purpose.treatment, desk)  # after the booking: withdrawn ...
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "paper")

    found = client.get(f"/audit/bookings/{visit}/consents", headers=token_for(Role.compliance))
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["missing"] == [] and len(body["receipts"]) == 1
    then = body["receipts"][0]["receipt"]
    assert then["status"] == "active" and then["version"] == 1 and then["method"] != "paper"
    assert then["policy_sha256"] == POLICIES[Purpose.treatment].digest
    check = consents.verify(Receipt.model_validate(body["receipts"][0]))
    assert check.valid and check.consent_status == "active" and check.superseded  # regranted
    now = consents.receipts(patient, desk)[0].receipt
    assert now["version"] == 3 and now["method"] == "paper"
    assert client.get(f"/audit/bookings/{visit}/consents",
                      headers=token_for(Role.front_desk)).status_code == 403
    assert base64.b64decode(body["receipts"][0]["signature"])  # base64, 64 bytes
