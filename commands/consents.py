"""Consent: the policy texts, a patient's grants and revocations, verifiable receipts."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from commands.application import found
from commands.context import Actor, acting_as
from commands.inputs import PlainText
from commands.models import Strict
from commands.patients import Patients
from commands.ports import ReceiptSigner
from domain.consent import POLICIES, Consent, Purpose
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
    """What was agreed, by whom, when and how; `signature` proves the clinic issued it."""

    receipt: dict[str, Any]
    # HMAC-SHA256 in hex: anything else cannot match (and non-ASCII made compare_digest raise).
    signature: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Consents:
    def __init__(self, patients: Patients, signer: ReceiptSigner) -> None:
        self.patients, self.app, self.signer = patients, patients.app, signer

    @staticmethod
    def policies() -> list[PolicyPublic]:
        """The policy texts in force, one per purpose: shown before asking for consent."""
        return [PolicyPublic(purpose=p.purpose, version=p.version, text=p.text,
                             sha256=p.digest) for p in POLICIES.values()]

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

    def verify(self, receipt: Receipt) -> bool:
        """Issued by this clinic and not altered."""
        return self.signer.verify(receipt.receipt, receipt.signature)

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
        return Receipt(receipt=receipt, signature=self.signer.sign(receipt))
