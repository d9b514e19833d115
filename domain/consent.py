"""Consent (FHIR Consent): a patient's grant or revocation for one purpose, against one
version of the policy text they were shown."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolationError
from domain.modality import Modality
from domain.text import plain_text

CONSENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:consent")


class Purpose(StrEnum):
    treatment = "treatment"
    telehealth = "telehealth"
    reminders_email = "reminders_email"
    reminders_sms = "reminders_sms"


@dataclass(frozen=True)
class Policy:
    purpose: Purpose
    version: str
    text: str

    def __post_init__(self) -> None:
        plain_text(self.version, "the policy version")
        plain_text(self.text, "the policy text", multiline=True)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


# Every policy text ever in force, oldest first: append a new version, never edit or remove
# one (receipts name them by digest; a past consent is read against its own text).
POLICY_VERSIONS: tuple[Policy, ...] = (
    Policy(Purpose.treatment, "2026-11-01",
           "I consent to examination and treatment by the clinic's providers for the visits I "
           "book, and to the clinic keeping a record of that care as the law requires."),
    Policy(Purpose.telehealth, "2026-11-01",
           "I consent to receiving care by video. I understand that a video visit has limits, "
           "that I should join from a private place, and that I may ask for an in-person "
           "visit instead."),
    Policy(Purpose.reminders_email, "2026-11-01",
           "Send me appointment confirmations and reminders by email. They will not contain "
           "the reason for my visit."),
    Policy(Purpose.reminders_sms, "2026-11-01",
           "Send me appointment reminders by text message. Message and data rates may apply."),
)


def in_force(versions: tuple[Policy, ...]) -> dict[Purpose, Policy]:
    """The newest version of each purpose's policy."""
    return {policy.purpose: policy for policy in versions}


def policy_with_digest(digest: str) -> Policy | None:
    """A policy text by the SHA-256 a receipt names, whether or not still in force."""
    return next((p for p in POLICY_VERSIONS if p.digest == digest), None)


POLICIES: dict[Purpose, Policy] = in_force(POLICY_VERSIONS)


def purposes_for_visit(modality: str) -> list[Purpose]:
    """Every visit needs consent to treatment; a video visit also to telehealth."""
    needed = [Purpose.treatment]
    if modality == Modality.telehealth.value:
        needed.append(Purpose.telehealth)
    return needed


class ConsentRequiredError(RuleViolationError):
    code = "consent-required"


class StalePolicyError(RuleViolationError):
    code = "stale-policy-version"


class Consent(Aggregate):
    class Granted(Aggregate.Created):
        patient_id: UUID
        purpose: str
        policy_version: str
        policy_digest: str
        method: str

    class Regranted(Aggregate.Event):
        policy_version: str
        policy_digest: str
        method: str

    class Revoked(Aggregate.Event):
        method: str

    @staticmethod
    def create_id(patient_id: UUID, purpose: str) -> UUID:
        return uuid5(CONSENT_NAMESPACE, f"{patient_id}/{purpose}")

    @classmethod
    def grant_new(cls, patient_id: UUID, purpose: Purpose, policy_version: str,
                  method: str) -> Consent:
        policy = _current(purpose, policy_version)
        return cls(patient_id=patient_id, purpose=purpose.value, policy_version=policy.version,
                   policy_digest=policy.digest, method=method)

    @event(Granted)
    def __init__(self, patient_id: UUID, purpose: str, policy_version: str,
                 policy_digest: str, method: str) -> None:
        self.patient_id = patient_id
        self.purpose = purpose
        self.policy_version = policy_version
        self.policy_digest = policy_digest
        self.method = method
        self.active = True

    def grant(self, policy_version: str, method: str) -> None:
        policy = _current(Purpose(self.purpose), policy_version)
        self._regranted(policy.version, policy.digest, method)

    @event(Regranted)
    def _regranted(self, policy_version: str, policy_digest: str, method: str) -> None:
        self.policy_version, self.policy_digest, self.method = (policy_version, policy_digest,
                                                                method)
        self.active = True

    def revoke(self, method: str) -> None:
        if self.active:
            self._revoked(method)

    @event(Revoked)
    def _revoked(self, method: str) -> None:
        self.active = False
        self.method = method

    @property
    def changed_at(self) -> datetime:
        """When the consent was last given or withdrawn: every event of a consent is one of
        those. (Inside an @event method `modified_on` is still the previous event's time.)"""
        return self.modified_on

    def is_current(self) -> bool:
        """Active, and given against the policy text in force today."""
        return self.active and self.policy_version == POLICIES[Purpose(self.purpose)].version

    def receipt(self) -> dict[str, Any]:
        return {"consent_id": str(self.id), "patient_id": str(self.patient_id),
                "purpose": self.purpose, "status": "active" if self.active else "revoked",
                "policy_version": self.policy_version, "policy_sha256": self.policy_digest,
                "method": self.method, "recorded_at": self.changed_at.isoformat(),
                "version": self.version}


def _current(purpose: Purpose, policy_version: str) -> Policy:
    policy = POLICIES[purpose]
    if policy_version != policy.version:
        raise StalePolicyError(
            f"the {purpose.value} policy in force is version {policy.version}; show it and "
            "ask again"
        )
    return policy
