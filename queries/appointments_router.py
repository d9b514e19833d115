"""Read routes for appointments. A patient sees only their own (others answer 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from domain.access import Role, Scope
from infra.auth.tokens import Principal
from infra.http.audit import record_read_async
from infra.http.deps import PhiDep, ReadPool
from infra.http.inputs import IsoDate
from infra.http.problems import ProblemError
from infra.http.security import Authorized
from infra.readmodels.appointments import reason_context
from queries import appointments

router = APIRouter(tags=["appointments"])
Reader = Annotated[Principal, Authorized(Scope.bookings_read)]
ScheduleReader = Annotated[Principal, Authorized(Scope.schedule_read)]


class AppointmentView(BaseModel):
    id: UUID
    patient_id: UUID
    provider_id: UUID
    provider_name: str
    clinic_id: UUID
    clinic_name: str
    clinic_time_zone: str
    service_id: UUID
    service_name: str
    slot_id: UUID
    start: datetime
    end: datetime
    clinic_local_start: datetime
    modality: str
    status: str
    late_cancellation: bool
    reschedule_count: int
    booked_at: datetime


class AppointmentDetails(AppointmentView):
    reason: str


@router.get("/bookings/{appointment_id}", response_model=AppointmentDetails)
async def read_booking(appointment_id: UUID, request: Request, principal: Reader,
                       pool: ReadPool, phi: PhiDep) -> AppointmentDetails:
    """One appointment, with the visit reason."""
    row = await appointments.get_appointment(pool, appointment_id)
    if not _may_see(principal, row):
        raise ProblemError("not-found", f"no appointment with id {appointment_id}",
                           denied=True, error="not-found")
    await record_read_async(request, principal, patient_id=row["patient_id"],
                            record_id=appointment_id)
    row["reason"] = await run_in_threadpool(phi.open_text, row["reason"],
                                            reason_context(appointment_id))
    return AppointmentDetails(**row)


@router.get("/patients/{patient_id}/appointments", response_model=list[AppointmentView])
async def read_patient_appointments(patient_id: UUID, request: Request, principal: Reader,
                                    pool: ReadPool) -> list[AppointmentView]:
    """A patient's appointments, soonest first (without visit reasons)."""
    if principal.role is Role.patient and principal.subject != str(patient_id):
        raise ProblemError("not-found", f"no patient with id {patient_id}", denied=True,
                           error="not-found")
    only = _uuid(principal.subject) if principal.role is Role.provider else None
    rows = await appointments.patient_appointments(pool, patient_id, only)
    await record_read_async(request, principal, patient_id=patient_id)
    return [AppointmentView(**r) for r in rows]


@router.get("/providers/{provider_id}/schedule", response_model=list[AppointmentView])
async def read_provider_schedule(provider_id: UUID, day: Annotated[IsoDate, "clinic-local"],
                                 request: Request, principal: ScheduleReader,
                                 pool: ReadPool) -> list[AppointmentView]:
    """A provider's appointments on one clinic-local date (`?day=2026-12-01`)."""
    if principal.role is Role.provider and principal.subject != str(provider_id):
        raise ProblemError("forbidden", "Providers see only their own schedule.")
    rows = await appointments.provider_day(pool, provider_id, day)
    await record_read_async(request, principal, record_id=f"{provider_id}/{day}",
                            patient_ids=[r["patient_id"] for r in rows])
    return [AppointmentView(**r) for r in rows]


def _may_see(principal: Principal, row: dict[str, Any]) -> bool:
    if principal.role is Role.patient:
        return principal.subject == str(row["patient_id"])
    if principal.role is Role.provider:
        return principal.subject == str(row["provider_id"])
    return True


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return UUID(int=0)
