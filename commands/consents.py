"""Consent: the policy texts, a patient's grants and revocations, verifiable receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from commands.application import found
from commands.context import Actor, acting_as
from commands.inputs import PlainText
from commands.models import Strict
from commands.patients import Patients
from commands.ports import ReceiptSigner, Signature
from domain.appointments import Appointment
from domain.consent import (
    POLICIES,
    Consent,
    Policy,
    Purpose,
    policy_with_digest,
    purposes_for_visit,
)
from domain.errors import NotFoundError
from domain.patients import Patient


class PolicyPublic(BaseModel):
    purpose: Purpose
    version: str
    text: str
    sha256: str


class ConsentGrant(Strict):
    purpose: Purpose
    policy_version: Annotated[PlainText, Field(max_length=64)]


class Receipt(BaseModel):
    """What was agreed, by whom, when and how. `signature`: Ed25519 by the clinic's audit key
    `key_id` over the receipt's canonical JSON; anyone can check it offline with the
    published verifier keys (docs/compliance.md)."""

    receipt: dict[str, Any]
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
    signature: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{86}==$")]  # 64 bytes, base64


class ReceiptCheck(BaseModel):
    """Whether the clinic signed this receipt unaltered, and what became of the consent."""

    valid: bool
    key_id: str | None = None  # the key that signed it (the current one or an earlier one)
    consent_status: Literal["active", "revoked"] | None = None  # now, for a valid receipt
    status_since: datetime | None = None  # when it was last granted or withdrawn
    superseded: bool | None = None  # a later grant or withdrawal has its own receipt


class BookingConsents(BaseModel):
    """The consents a booking needed, as they stood when it was made."""

    appointment_id: UUID
    booked_at: datetime
    receipts: list[Receipt]  # as of the booking: active, against the policy then in force
    missing: list[Purpose]  # none, unless the booking was made before the rule existed


class Consents:
    def __init__(self, patients: Patients, signer: ReceiptSigner) -> None:
        self.patients, self.app, self.signer = patients, patients.app, signer

    @staticmethod
    def policies() -> list[PolicyPublic]:
        """The policy texts in force, one per purpose: shown before asking for consent."""
        return [_public(p) for p in POLICIES.values()]

    @staticmethod
    def policy(digest: str) -> PolicyPublic:
        """A policy text ever in force, in force or not, by the digest a receipt names."""
        policy = policy_with_digest(digest)
        if policy is None:
            raise NotFoundError("no policy text with that SHA-256")
        return _public(policy)

    def grant(self, patient_id: UUID, command: ConsentGrant, actor: Actor,
              method: str = "web") -> Receipt:
        """Against the policy version the patient was shown."""
        self.patients.require_reachable(patient_id, actor)
        with acting_as(actor.doing(f"consent granted: {command.purpose.value}")):
            consent = self._on_record(patient_id, command.purpose).get(command.purpose)
            if consent is None:
                consent = Consent.grant_new(patient_id, command.purpose,
                                            command.policy_version, method)
            else:
                consent.grant(command.policy_version, method)
            self.app.save(consent)
        return self.signed(consent)

    def revoke(self, patient_id: UUID, purpose: Purpose, actor: Actor,
               method: str = "web") -> Receipt:
        self.patients.require_reachable(patient_id, actor)
        with acting_as(actor.doing(f"consent revoked: {purpose.value}")):
            consent = self.consent(patient_id, purpose)
            if consent is None:
                raise NotFoundError(f"no {purpose.value} consent to revoke")
            consent.revoke(method)
            self.app.save(consent)
        return self.signed(consent)

    def receipts(self, patient_id: UUID, actor: Actor) -> list[Receipt]:
        """One per purpose ever answered."""
        self.patients.require_reachable(patient_id, actor)
        return [self.signed(c) for c in self._on_record(patient_id, *Purpose).values()]

    def receipt(self, consent_id: UUID, actor: Actor) -> Receipt:
        """One consent answer by its id, to whoever may read its patient's (as `receipts`);
        to anyone else it is as absent as an unknown id."""
        consent = self.app.find(Consent, consent_id)
        if consent is None:
            raise NotFoundError(f"no consent with id {consent_id}")
        self.patients.require_reachable(consent.patient_id, actor)
        self.patients.patient(consent.patient_id)  # still on record (not erased)
        return self.signed(consent)

    def verify(self, receipt: Receipt) -> ReceiptCheck:
        """Issued by this clinic and not altered; if so, also whether the consent stands."""
        if not self.signer.verify(receipt.receipt,
                                  Signature(receipt.key_id, receipt.signature)):
            return ReceiptCheck(valid=False)
        check = ReceiptCheck(valid=True, key_id=receipt.key_id)
        try:
            consent = self.app.find(Consent, UUID(str(receipt.receipt.get("consent_id"))))
        except ValueError:
            return check
        if consent is None:
            return check
        return check.model_copy(update={
            "consent_status": "active" if consent.active else "revoked",
            "status_since": consent.changed_at,
            "superseded": consent.version != receipt.receipt.get("version")})

    def verifier_keys(self) -> list[str]:
        """The keys receipts are checked with: the current one first (docs/compliance.md)."""
        return self.signer.verifier_keys()

    def at_booking(self, appointment_id: UUID) -> BookingConsents:
        """The consents the booking needed as they stood when it was made, each with its
        receipt then (signed now: the receipt states the consent's version and time)."""
        appointment = self.app.get(Appointment, appointment_id, "appointment")
        booked_at = appointment.created_on
        receipts, missing = [], []
        for purpose in purposes_for_visit(appointment.modality):
            consent_id = Consent.create_id(appointment.patient_id, purpose.value)
            try:
                consent, _ = self.app.as_of(consent_id, booked_at)
            except NotFoundError:
                consent = None
            if isinstance(consent, Consent):
                receipts.append(self.signed(consent))
            else:
                missing.append(purpose)
        return BookingConsents(appointment_id=appointment_id, booked_at=booked_at,
                               receipts=receipts, missing=missing)

    def _on_record(self, patient_id: UUID, *purposes: Purpose) -> dict[Purpose, Consent]:
        """The patient's consents for these purposes, read in one query with the patient
        (who must still be on record)."""
        ids = {Consent.create_id(patient_id, p.value): p for p in purposes}
        loaded = self.app.get_many(patient_id, *ids)
        found(loaded, Patient, patient_id, "patient").require_present()
        return {purpose: consent for consent_id, purpose in ids.items()
                if isinstance(consent := loaded.get(consent_id), Consent)}

    def consent(self, patient_id: UUID, purpose: Purpose) -> Consent | None:
        return self.app.find(Consent, Consent.create_id(patient_id, purpose.value))

    def signed(self, consent: Consent) -> Receipt:
        receipt = consent.receipt()
        signature = self.signer.sign(receipt)
        return Receipt(receipt=receipt, key_id=signature.key_id, signature=signature.value)


def _public(policy: Policy) -> PolicyPublic:
    return PolicyPublic(purpose=policy.purpose, version=policy.version, text=policy.text,
                        sha256=policy.digest)
