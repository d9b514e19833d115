"""Erasure and retention: crypto-shredding a patient's PHI (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictBool

from commands.models import Strict
from domain.access import Scope
from domain.patients import ErasureBasis
from infra.auth.tokens import Principal
from infra.erasure import erase_patient, run_retention
from infra.http.commands import acting
from infra.http.deps import ContainerDep
from infra.http.security import Authorized

router = APIRouter(tags=["privacy"])
Eraser = Annotated[Principal, Authorized(Scope.patients_erase)]


class ErasureRequest(Strict):
    basis: Annotated[ErasureBasis, Field(description="Why: a patient's request or a legal "
                                                     "order (retention runs on its own)")]


class ErasurePublic(BaseModel):
    patient_id: UUID
    erased: bool = True
    recorded: bool = Field(description="False when an earlier erasure was only completed")
    sessions_ended: int
    visits_cancelled: int = Field(description="Upcoming visits cancelled first")


class RetentionRequest(Strict):
    # Strict: lax mode read 0, "no" or "off" as false, and this one erases when false.
    dry_run: StrictBool = Field(default=True,
                                description="List who would be erased, erase no one")
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000


class RetentionPublic(BaseModel):
    cutoff: datetime
    dry_run: bool
    candidates: list[UUID]
    erased: list[UUID]


@router.post("/admin/patients/{patient_id}/erase", response_model=ErasurePublic)
def erase(patient_id: UUID, body: ErasureRequest, request: Request, principal: Eraser,
          container: ContainerDep) -> ErasurePublic:
    """Erase a patient's PHI for good: the event log stays complete, its PHI unreadable."""
    with acting(request, principal, f"erasure: {body.basis.value}"):
        done = erase_patient(container, patient_id, body.basis)
    return ErasurePublic(patient_id=patient_id, recorded=done.recorded,
                         sessions_ended=done.sessions_ended,
                         visits_cancelled=done.visits_cancelled)


@router.post("/admin/retention/run", response_model=RetentionPublic)
def retention(body: RetentionRequest, request: Request, principal: Eraser,
              container: ContainerDep) -> RetentionPublic:
    """Apply the retention policy now (CLINIC_RETENTION_YEARS after the last activity)."""
    with acting(request, principal, "retention run"):
        run = run_retention(container, datetime.now(UTC), dry_run=body.dry_run,
                            limit=body.limit)
    return RetentionPublic(cutoff=run.cutoff, dry_run=run.dry_run, candidates=run.candidates,
                           erased=[e.patient_id for e in run.erased])
