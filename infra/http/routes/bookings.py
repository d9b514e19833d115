"""/bookings (FHIR Appointment): book, read, cancel, reschedule, and the visit's day-of steps."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from commands.booking import BookingCreate, HandOff, Reschedule
from commands.context import Actor
from commands.follow_ups import FollowUpCreate, FollowUpPublic
from commands.inputs import MultilineText
from commands.models import Strict
from commands.visits import BookingPublic, Discharge, DischargeSummary
from domain.access import Scope
from infra.http.audit import record_read, record_read_async
from infra.http.deps import (
    BookingsDep,
    FollowUpsDep,
    Limits,
    PhiDep,
    ReadPool,
    SettingsDep,
    VisitsDep,
)
from infra.http.responses import answered, etag, expected_version, idempotency_key
from infra.http.security import Acting
from infra.postgres.appointments import reason_context
from queries import appointments
from queries.models import AppointmentDetails

router = APIRouter(prefix="/bookings", tags=["bookings"])
Booker = Annotated[Actor, Acting(Scope.bookings_write)]
Reader = Annotated[Actor, Acting(Scope.bookings_read)]
VisitStaff = Annotated[Actor, Acting(Scope.visits_manage)]
Canceller = Annotated[Actor, Acting(Scope.bookings_cancel)]


class Cancellation(Strict):
    note: Annotated[MultilineText, Field(max_length=500)] = ""


@router.post("", status_code=201, response_model=BookingPublic,
             responses={409: {"description": "The time is taken or held by someone else"}})
def create_booking(body: BookingCreate, request: Request, actor: Booker, bookings: BookingsDep,
                   limits: Limits) -> JSONResponse:
    """Book a slot, with or without a hold. Send `Idempotency-Key` to retry safely."""
    limits.check(("book", actor.subject, 30, 60), ("book-ip", limits.address, 120, 60))
    outcome = bookings.book(body, actor, idempotency_key(request, actor.subject))
    return answered(outcome, 201, location=f"/bookings/{outcome.result.id}")


PRECONDITION: dict[int | str, dict[str, Any]] = {412: {
    "description": "If-Match names another version than the appointment's; nothing changed"}}


@router.get("/{appointment_id}", response_model=AppointmentDetails)
async def read_booking(appointment_id: UUID, request: Request, response: Response,
                       actor: Reader, pool: ReadPool, phi: PhiDep,
                       settings: SettingsDep) -> AppointmentDetails:
    """One appointment, with the visit reason; its `ETag` is its version (If-Match)."""
    row = await appointments.read_appointment(pool, actor, appointment_id)
    row["late_cancellation_from"] = row["start"] - timedelta(
        hours=settings.cancellation_cutoff_hours)
    response.headers["ETag"] = etag(row["version"])
    await record_read_async(request, actor, patient_id=row["patient_id"],
                            record_id=appointment_id)
    row["reason"] = await run_in_threadpool(phi.open_text, row["reason"],
                                            reason_context(appointment_id))
    return AppointmentDetails(**row)


@router.post("/{appointment_id}/cancel", response_model=BookingPublic, responses=PRECONDITION)
def cancel_booking(appointment_id: UUID, body: Cancellation, request: Request,
                   response: Response, actor: Canceller,
                   bookings: BookingsDep) -> BookingPublic:
    """Cancel; within the cut-off before the start it is recorded as a late cancellation.
    With `If-Match`, only if the appointment is still at that version."""
    cancelled = bookings.cancel(appointment_id, body.note, actor, expected_version(request))
    response.headers["ETag"] = etag(cancelled.version)
    return cancelled


@router.post("/{appointment_id}/reschedule", response_model=BookingPublic,
             responses={409: {"description": "The new time is taken; nothing changed"},
                        **PRECONDITION})
def reschedule_booking(appointment_id: UUID, body: Reschedule, request: Request,
                       response: Response, actor: Booker,
                       bookings: BookingsDep) -> BookingPublic:
    """Move to another slot of the same provider and service, atomically. With
    `If-Match`, only if the appointment is still at that version."""
    moved = bookings.reschedule(appointment_id, body, actor, expected_version(request))
    response.headers["ETag"] = etag(moved.version)
    return moved


@router.post("/{appointment_id}/hand-off", response_model=BookingPublic,
             responses={409: {"description": "The other provider is not free then, or does "
                                             "not work then; nothing changed"}})
def hand_off(appointment_id: UUID, body: HandOff, actor: VisitStaff,
             bookings: BookingsDep) -> BookingPublic:
    """Give the visit to another provider at the same clinic and time (a provider hands off
    their own visits; the front desk their clinics')."""
    return bookings.hand_off(appointment_id, body, actor)


@router.post("/{appointment_id}/confirm", response_model=BookingPublic)
def confirm(appointment_id: UUID, actor: Booker, visits: VisitsDep) -> BookingPublic:
    """The patient is coming (asked after repeated no-shows: `confirm_by` in the booking);
    unconfirmed by then, the visit is released to the waitlist. Repeating it is harmless."""
    return visits.confirm(appointment_id, actor)


@router.post("/{appointment_id}/check-in", response_model=BookingPublic)
def check_in(appointment_id: UUID, actor: VisitStaff, visits: VisitsDep) -> BookingPublic:
    """The patient has arrived (or joined the video visit)."""
    return visits.check_in(appointment_id, actor)


@router.post("/{appointment_id}/complete", response_model=BookingPublic)
def complete(appointment_id: UUID, actor: VisitStaff, visits: VisitsDep) -> BookingPublic:
    """The visit took place."""
    return visits.complete(appointment_id, actor)


@router.post("/{appointment_id}/no-show", response_model=BookingPublic)
def no_show(appointment_id: UUID, actor: VisitStaff, visits: VisitsDep) -> BookingPublic:
    """The patient did not come (only once the visit's time has begun)."""
    return visits.mark_no_show(appointment_id, actor)


@router.post("/{appointment_id}/discharge", response_model=BookingPublic)
def discharge(appointment_id: UUID, body: Discharge, actor: VisitStaff,
              visits: VisitsDep) -> BookingPublic:
    """File the completed visit's discharge summary by reference (no clinical text)."""
    return visits.discharge(appointment_id, body, actor)


@router.get("/{appointment_id}/discharge", response_model=DischargeSummary)
def read_discharge(appointment_id: UUID, request: Request, actor: Reader,
                   visits: VisitsDep) -> DischargeSummary:
    """Where the visit's discharge summary is filed."""
    summary = visits.discharge_summary(appointment_id, actor)
    record_read(request, actor, patient_id=summary.patient_id, record_id=appointment_id)
    return summary


@router.post("/{appointment_id}/follow-up", status_code=201, response_model=FollowUpPublic)
def book_follow_up(appointment_id: UUID, body: FollowUpCreate, request: Request,
                   actor: VisitStaff, follow_ups: FollowUpsDep) -> JSONResponse:
    """Book the patient's follow-up with the same provider in a window after this visit; if
    no time is free, the patient waits for one (a waitlist entry). `Idempotency-Key` welcome."""
    outcome = follow_ups.follow_up(appointment_id, body, actor,
                                   idempotency_key(request, actor.subject))
    return answered(outcome, 201)
