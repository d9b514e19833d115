"""Consent: /consent-policies, a patient's /patients/{id}/consents, /consent-receipts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from commands.consents import ConsentGrant, PolicyPublic, Receipt, ReceiptCheck
from commands.context import Actor
from domain.access import Scope
from domain.consent import Purpose
from infra.http.audit import record_read
from infra.http.deps import ConsentsDep
from infra.http.security import Acting

router = APIRouter(tags=["consent"])
PatientWriter = Annotated[Actor, Acting(Scope.patients_write)]
PatientReader = Annotated[Actor, Acting(Scope.patients_read)]


class VerifierKeys(BaseModel):
    keys: list[str]  # C2SP verifier keys, the current one first


@router.get("/consent-policies", response_model=list[PolicyPublic])
def read_policies(consents: ConsentsDep) -> list[PolicyPublic]:
    """The policy texts in force, one per purpose: show these before asking for consent."""
    return consents.policies()


@router.post("/patients/{patient_id}/consents", response_model=Receipt)
def grant_consent(patient_id: UUID, body: ConsentGrant, actor: PatientWriter,
                  consents: ConsentsDep) -> Receipt:
    """Grant consent for one purpose against the policy version the patient was shown."""
    return consents.grant(patient_id, body, actor)


@router.delete("/patients/{patient_id}/consents/{purpose}", response_model=Receipt)
def revoke_consent(patient_id: UUID, purpose: Purpose, actor: PatientWriter,
                   consents: ConsentsDep) -> Receipt:
    """Revoke consent for one purpose; the receipt records the revocation."""
    return consents.revoke(patient_id, purpose, actor)


@router.get("/patients/{patient_id}/consents", response_model=list[Receipt])
def read_consents(patient_id: UUID, request: Request, actor: PatientReader,
                  consents: ConsentsDep) -> list[Receipt]:
    """The patient's consent receipts, one per purpose ever answered."""
    receipts = consents.receipts(patient_id, actor)
    record_read(request, actor, patient_id=patient_id)
    return receipts


@router.post("/consent-receipts/verify", response_model=ReceiptCheck)
def verify_receipt(body: Receipt, consents: ConsentsDep) -> ReceiptCheck:
    """Check that a receipt was issued by this clinic and not altered, and whether the
    consent it records still stands (or was withdrawn, and when)."""
    return consents.verify(body)


@router.get("/consent-receipts/keys", response_model=VerifierKeys)
async def read_verifier_keys(consents: ConsentsDep) -> VerifierKeys:
    """The public keys receipts are signed with: check a receipt offline with these
    (docs/compliance/verify_receipt.py). Earlier keys stay listed after a rotation."""
    return VerifierKeys(keys=consents.verifier_keys())


@router.get("/consent-policies/{sha256}", response_model=PolicyPublic)
async def read_policy_version(sha256: str, consents: ConsentsDep) -> PolicyPublic:
    """Any policy text ever in force, by the SHA-256 a receipt names."""
    return consents.policy(sha256)
