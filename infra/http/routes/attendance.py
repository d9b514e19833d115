"""/patients/{patient_id}/attendance: a patient's attendance history (no-show rule's input)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from commands.context import Actor
from domain.access import Scope
from infra.http.audit import record_read_async
from infra.http.deps import ReadPool
from infra.http.security import Acting
from queries.attendance import AttendanceSummary, read_attendance

router = APIRouter(prefix="/patients", tags=["patients"])
Reader = Annotated[Actor, Acting(Scope.bookings_read)]


@router.get("/{patient_id}/attendance", response_model=AttendanceSummary)
async def read_patient_attendance(
        patient_id: UUID, request: Request, actor: Reader, pool: ReadPool,
        within_days: Annotated[int, Query(ge=1, le=3650, description="Recent means within "
                                                                      "this many days")] = 180,
) -> AttendanceSummary:
    """Visits booked, attended, missed and cancelled late (a patient's own only)."""
    summary = await read_attendance(pool, actor, patient_id, within_days)
    await record_read_async(request, actor, patient_id=patient_id)
    return summary
