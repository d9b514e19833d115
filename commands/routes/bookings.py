"""Bookings (FHIR Appointment): book, cancel, reschedule, and the visit's day-of steps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from commands.booking import DuplicateAppointmentError
from commands.models import Strict
from commands.ports import SlotInfo
from commands.routes.holds import check_hold
from domain.access import Role, Scope
from domain.appointments import Appointment
from domain.calendars import SlotTakenError
from domain.errors import ConflictError, DomainError
from infra.auth.tokens import Principal
from infra.container import Container
from infra.http.client import client_ip
from infra.http.commands import acting, idempotent_create, rate_limit
from infra.http.deps import ContainerDep
from infra.http.problems import ProblemError
from infra.http.security import Authorized
from infra.observability.metrics import record_booking, record_booking_conflict

router = APIRouter(tags=["bookings"])
Booker = Annotated[Principal, Authorized(Scope.bookings_write)]
VisitStaff = Annotated[Principal, Authorized(Scope.visits_manage)]
Note = Annotated[str, Field(max_length=500)]


class HoldProof(Strict):
    hold_id: UUID | None = None
    hold_secret: Annotated[str | None, Field(max_length=100)] = None


class BookingCreate(HoldProof):
    slot_id: UUID
    reason: Annotated[str, Field(max_length=500, description="Visit reason (PHI)")] = ""
    patient_id: Annotated[UUID | None, Field(description="Staff only: whom to book for")] = None


class Reschedule(HoldProof):
    slot_id: UUID


class Cancellation(Strict):
    note: Note = ""


class BookingPublic(BaseModel):
    """An appointment without its reason: safe to echo, cache and log by id."""

    id: UUID
    patient_id: UUID
    provider_id: UUID
    clinic_id: UUID
    service_id: UUID
    slot_id: UUID
    start: datetime
    end: datetime
    modality: str
    status: str
    late_cancellation: bool


@router.post("/bookings", status_code=201, response_model=BookingPublic,
             responses={409: {"description": "The time is taken or held by someone else"}})
def create_booking(body: BookingCreate, request: Request, principal: Booker,
                   container: ContainerDep) -> JSONResponse:
    """Book a slot, with or without a hold. Send `Idempotency-Key` to retry safely."""
    rate_limit(container, ("book", principal.subject, 30, 60),
               ("book-ip", client_ip(request), 120, 60))
    with _counted_refusals("book"):
        return _book(body, request, principal, container)


def _book(body: BookingCreate, request: Request, principal: Principal,
          container: Container) -> JSONResponse:
    patient_id = _patient_for(principal, body.patient_id)
    slot = _bookable_slot(container, body.slot_id, body.hold_id, body.hold_secret)

    def create(derived_id: UUID | None) -> tuple[int, Any]:
        try:
            with acting(request, principal, "booking"):
                appointment = container.app.book(patient_id, slot, body.reason,
                                                 datetime.now(UTC), derived_id)
        except DuplicateAppointmentError as dup:  # a retry whose first answer was lost
            appointment = container.app.appointment(dup.appointment_id)
        else:
            record_booking("booked")  # not for a replayed answer: that booking was counted
        if body.hold_id is not None:
            container.holds.release(slot.slot_id, body.hold_id)
        if appointment.patient_id != patient_id:
            raise ProblemError("validation-error", "This Idempotency-Key was used for "
                               "another booking.", error="idempotency-key-reused")
        return 201, public(appointment)

    response = idempotent_create(request, container, principal.subject, body, create)
    response.headers["Location"] = f"/bookings/{response_id(response)}"
    return response


@router.post("/bookings/{appointment_id}/cancel", response_model=BookingPublic)
def cancel_booking(appointment_id: UUID, body: Cancellation, request: Request,
                   principal: Booker, container: ContainerDep) -> BookingPublic:
    """Cancel; within the cut-off before the start it is recorded as a late cancellation."""
    _own_appointment(container, principal, appointment_id)
    with acting(request, principal, "cancellation"):
        appointment = container.app.cancel(appointment_id, datetime.now(UTC), body.note)
    return public(appointment)


@router.post("/bookings/{appointment_id}/reschedule", response_model=BookingPublic,
             responses={409: {"description": "The new time is taken; nothing changed"}})
def reschedule_booking(appointment_id: UUID, body: Reschedule, request: Request,
                       principal: Booker, container: ContainerDep) -> BookingPublic:
    """Move to another slot of the same provider and service, atomically."""
    _own_appointment(container, principal, appointment_id)
    slot = _bookable_slot(container, body.slot_id, body.hold_id, body.hold_secret)
    with acting(request, principal, "reschedule"), _counted_refusals("reschedule"):
        appointment = container.app.reschedule(appointment_id, slot, datetime.now(UTC))
    if body.hold_id is not None:
        container.holds.release(slot.slot_id, body.hold_id)
    return public(appointment)


@router.post("/bookings/{appointment_id}/check-in", response_model=BookingPublic)
def check_in(appointment_id: UUID, request: Request, principal: VisitStaff,
             container: ContainerDep) -> BookingPublic:
    """The patient has arrived (or joined the video visit)."""
    _own_appointment(container, principal, appointment_id)
    with acting(request, principal, "check-in"):
        return public(container.app.check_in(appointment_id))


@router.post("/bookings/{appointment_id}/complete", response_model=BookingPublic)
def complete(appointment_id: UUID, request: Request, principal: VisitStaff,
             container: ContainerDep) -> BookingPublic:
    """The visit took place."""
    _own_appointment(container, principal, appointment_id)
    with acting(request, principal, "visit completed"):
        return public(container.app.complete(appointment_id))


@router.post("/bookings/{appointment_id}/no-show", response_model=BookingPublic)
def no_show(appointment_id: UUID, request: Request, principal: VisitStaff,
            container: ContainerDep) -> BookingPublic:
    """The patient did not come (only once the visit's time has begun)."""
    _own_appointment(container, principal, appointment_id)
    with acting(request, principal, "no-show"):
        return public(container.app.mark_no_show(appointment_id, datetime.now(UTC)))


def public(appointment: Appointment) -> BookingPublic:
    details = appointment.details()
    details.pop("reason")
    return BookingPublic(**details)


def response_id(response: JSONResponse) -> str:
    return str(json.loads(bytes(response.body)).get("id", ""))


def _patient_for(principal: Principal, given: UUID | None) -> UUID:
    if principal.role is Role.patient:
        if given is not None and str(given) != principal.subject:
            raise ProblemError("not-found", f"no patient with id {given}", denied=True,
                               error="not-found")
        return UUID(principal.subject)
    if given is None:
        raise ProblemError("validation-error", "Staff bookings name the patient_id.")
    return given


def _own_appointment(container: Container, principal: Principal, appointment_id: UUID) -> None:
    """A patient reaches only their own appointments, a provider only visits with them
    (staff: any); anyone else's look like they do not exist."""
    appointment = container.app.appointment(appointment_id)
    owner = {Role.patient: appointment.patient_id, Role.provider: appointment.provider_id}
    if principal.role in owner and str(owner[principal.role]) != principal.subject:
        raise ProblemError("not-found", f"no appointment with id {appointment_id}",
                           denied=True, error="not-found")


def _bookable_slot(container: Container, slot_id: UUID, hold_id: UUID | None,
                   hold_secret: str | None) -> SlotInfo:
    slot = container.slots.slot(slot_id)
    if slot is None:
        raise ProblemError("not-found", f"no slot with id {slot_id}")
    if hold_id is not None:
        check_hold(container, slot_id, hold_id, hold_secret or "")
    else:
        current = container.holds.holding(slot_id)
        if current is not None:
            raise ProblemError("conflict", "Someone else is holding that time.",
                               error="slot-held")
    return slot


@contextmanager
def _counted_refusals(command: Literal["book", "reschedule"]) -> Iterator[None]:
    """Count why a booking did not happen: a 409 is a conflict (slot-taken: the event store
    found the time gone), any other refusal is rejected. Crashes are not outcomes: they are
    5xx in the request metrics."""
    try:
        yield
    except (DomainError, ProblemError) as exc:
        if isinstance(exc, SlotTakenError):
            record_booking_conflict(command)
        if command == "book":
            conflict = isinstance(exc, ConflictError) or \
                (isinstance(exc, ProblemError) and exc.code == "conflict")
            record_booking("conflict" if conflict else "rejected")
        raise
