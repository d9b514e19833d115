"""/admin: erasure and retention, crypto-shredding a patient's PHI (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool

from commands.context import Actor
from commands.erasure import ErasureRequest
from commands.models import Strict
from domain.access import Scope
from infra.http.deps import ErasingDep, RetentionDep
from infra.http.security import Acting

router = APIRouter(prefix="/admin", tags=["privacy"])
Eraser = Annotated[Actor, Acting(Scope.patients_erase)]


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


@router.post("/patients/{patient_id}/erase", response_model=ErasurePublic)
def erase(patient_id: UUID, body: ErasureRequest, actor: Eraser,
          erasing: ErasingDep) -> ErasurePublic:
    """Erase a patient's PHI for good: the event log stays complete, its PHI unreadable."""
    done = erasing.erase(patient_id, body, actor)
    return ErasurePublic(patient_id=patient_id, recorded=done.recorded,
                         sessions_ended=done.sessions_ended,
                         visits_cancelled=done.visits_cancelled)


@router.post("/retention/run", response_model=RetentionPublic)
def retention(body: RetentionRequest, actor: Eraser, policy: RetentionDep) -> RetentionPublic:
    """Apply the retention policy now (CLINIC_RETENTION_YEARS after the last activity)."""
    run = policy.run(actor, datetime.now(UTC), dry_run=body.dry_run, limit=body.limit)
    return RetentionPublic(cutoff=run.cutoff, dry_run=run.dry_run, candidates=run.candidates,
                           erased=[e.patient_id for e in run.erased])
