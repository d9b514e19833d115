"""/patients: register, see and change one's details, one's appointments."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from commands.context import Actor
from commands.patients import ContactUpdate, PatientCreate, PatientProfile, Registration
from domain.access import Scope
from infra.http.audit import record_read, record_read_async
from infra.http.deps import Limits, PatientsDep, ReadPool
from infra.http.responses import answered, idempotency_key
from infra.http.security import Acting, Anonymous
from queries import appointments
from queries.models import AppointmentView

router = APIRouter(prefix="/patients", tags=["patients"])
PatientReader = Annotated[Actor, Acting(Scope.patients_read)]
PatientWriter = Annotated[Actor, Acting(Scope.patients_write)]
BookingsReader = Annotated[Actor, Acting(Scope.bookings_read)]


@router.post("", status_code=202, response_model=Registration,
             responses={202: {"description": "Registered (or already registered): a code was "
                                             "sent to the address"}})
def create_patient(body: PatientCreate, request: Request, actor: Anonymous,
                   patients: PatientsDep, limits: Limits) -> JSONResponse:
    """Register with minimal details; a sign-in code goes to the email address."""
    limits.check(("register-ip", limits.address, 20, 3600),
                 ("code-email", body.email.strip().lower(), 5, 3600))
    key = idempotency_key(request, f"ip:{limits.address}")
    return answered(patients.register(body, actor, key), 202)


@router.get("/{patient_id}", response_model=PatientProfile)
def read_patient(patient_id: UUID, request: Request, actor: PatientReader,
                 patients: PatientsDep) -> PatientProfile:
    """A patient's own details (or, for staff, any patient's)."""
    profile = patients.profile(patient_id, actor)
    record_read(request, actor, patient_id=patient_id, record_id=patient_id)
    return profile


@router.put("/{patient_id}/contact", response_model=PatientProfile)
def update_contact(patient_id: UUID, body: ContactUpdate, request: Request,
                   actor: PatientWriter, patients: PatientsDep) -> PatientProfile:
    """Change email or phone; a new email address must be verified again."""
    profile = patients.change_contact(patient_id, body, actor)
    record_read(request, actor, patient_id=patient_id, record_id=patient_id)
    return profile


@router.get("/{patient_id}/appointments", response_model=list[AppointmentView])
async def read_patient_appointments(patient_id: UUID, request: Request, actor: BookingsReader,
                                    pool: ReadPool) -> list[AppointmentView]:
    """A patient's appointments, soonest first (without visit reasons)."""
    rows = await appointments.read_patient_appointments(pool, actor, patient_id)
    await record_read_async(request, actor, patient_id=patient_id)
    return [AppointmentView(**r) for r in rows]
