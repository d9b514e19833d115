"""Consent: the policy texts, a patient's grants and revocations, verifiable receipts."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from commands.models import Strict
from commands.routes.patients import require_own
from domain.access import Scope
from domain.consent import POLICIES, Consent, Purpose
from infra.auth.tokens import Principal
from infra.container import Container
from infra.http.audit import record_read
from infra.http.commands import acting
from infra.http.deps import ContainerDep
from infra.http.security import Authorized
from infra.keys import keyed_hash

router = APIRouter(tags=["consent"])
PatientWriter = Annotated[Principal, Authorized(Scope.patients_write)]
PatientReader = Annotated[Principal, Authorized(Scope.patients_read)]


class PolicyPublic(BaseModel):
    purpose: Purpose
    version: str
    text: str
    sha256: str


class ConsentGrant(Strict):
    purpose: Purpose
    policy_version: str


class Receipt(BaseModel):
    """What was agreed, by whom, when and how; `signature` proves the clinic issued it."""

    receipt: dict[str, Any]
    # HMAC-SHA256 in hex: anything else cannot match (and non-ASCII made compare_digest raise).
    signature: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ReceiptCheck(BaseModel):
    valid: bool


@router.get("/consent-policies", response_model=list[PolicyPublic])
def read_policies() -> list[PolicyPublic]:
    """The policy texts in force, one per purpose: show these before asking for consent."""
    return [PolicyPublic(purpose=p.purpose, version=p.version, text=p.text, sha256=p.digest)
            for p in POLICIES.values()]


@router.post("/patients/{patient_id}/consents", response_model=Receipt)
def grant_consent(patient_id: UUID, body: ConsentGrant, request: Request,
                  principal: PatientWriter, container: ContainerDep) -> Receipt:
    """Grant consent for one purpose against the policy version the patient was shown."""
    require_own(principal, patient_id, container)
    with acting(request, principal, f"consent granted: {body.purpose.value}"):
        consent = container.app.grant_consent(patient_id, body.purpose, body.policy_version,
                                              method="web")
    return signed(container, consent)


@router.delete("/patients/{patient_id}/consents/{purpose}", response_model=Receipt)
def revoke_consent(patient_id: UUID, purpose: Purpose, request: Request,
                   principal: PatientWriter, container: ContainerDep) -> Receipt:
    """Revoke consent for one purpose; the receipt records the revocation."""
    require_own(principal, patient_id, container)
    with acting(request, principal, f"consent revoked: {purpose.value}"):
        consent = container.app.revoke_consent(patient_id, purpose, method="web")
    return signed(container, consent)


@router.get("/patients/{patient_id}/consents", response_model=list[Receipt])
def read_consents(patient_id: UUID, request: Request, principal: PatientReader,
                  container: ContainerDep) -> list[Receipt]:
    """The patient's consent receipts, one per purpose ever answered."""
    require_own(principal, patient_id, container)
    container.app.patient(patient_id)
    record_read(request, principal, patient_id=patient_id)
    found = (container.app.consent(patient_id, p) for p in Purpose)
    return [signed(container, c) for c in found if c is not None]


@router.post("/consent-receipts/verify", response_model=ReceiptCheck)
def verify_receipt(body: Receipt, container: ContainerDep) -> ReceiptCheck:
    """Check that a receipt was issued by this clinic and not altered."""
    expected = _signature(container, body.receipt)
    return ReceiptCheck(valid=hmac.compare_digest(expected, body.signature))


def signed(container: Container, consent: Consent) -> Receipt:
    receipt = consent.receipt()
    return Receipt(receipt=receipt, signature=_signature(container, receipt))


def _signature(container: Container, receipt: dict[str, Any]) -> str:
    key = container.keys.receipts
    canonical = json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()
    return keyed_hash(key, canonical)


