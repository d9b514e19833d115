"""/fhir/R4 booking after the IHE ITI Scheduling guide: `Appointment/$find` (proposed
appointments from open slots), `$hold` (our hold), `$book` (our booking command; also
cancel, and reschedule as one atomic move). The same use cases and access rules as the JSON
API (docs/fhir.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool

from commands.booking import BookingCreate, Reschedule
from commands.context import Actor
from commands.holds import HoldCreate
from commands.visits import BookingPublic
from domain.access import Scope
from domain.errors import ConflictError
from infra.fhir import clinical
from infra.http.deps import BookingsDep, ClientPseudonym, HoldingDep, Limits, ReadPool
from infra.http.fhir import BASE, OUTCOME, FhirResponse, bundle
from infra.http.fhir_parameters import (
    InvalidOperationError,
    appointment_id_of,
    hold_proof,
    patient_of,
    proposed_slot,
    reference_in,
    resource_in,
    slot_of,
)
from infra.http.fhir_search import slot_search_of
from infra.http.problems import ProblemError
from infra.http.responses import etag, expected_version, idempotency_key
from infra.http.security import Acting, MaybeActor
from queries.slots import find_slot, search_slots

router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
Booker = Annotated[Actor, Acting(Scope.bookings_write)]
Parameters = Annotated[dict[str, Any], Body(media_type="application/fhir+json")]


@router.get("/Appointment/$find")
async def find_appointments(
        request: Request, pool: ReadPool,
        service_type: Annotated[str, Query(alias="service-type", max_length=200)],
        start: Annotated[list[str] | None, Query(max_length=40)] = None,
        end: Annotated[list[str] | None, Query(max_length=40)] = None,
        practitioner: Annotated[str | None, Query(max_length=100)] = None,
        location: Annotated[str | None, Query(max_length=100)] = None,
        count: Annotated[int, Query(alias="_count", ge=1, le=200)] = 50,
        page_token: Annotated[str | None, Query(alias="_page_token", max_length=200)] = None,
) -> dict[str, Any]:
    """Proposed appointments for a service in a period (optionally one practitioner or
    location): each a free slot, bookable with `$hold` and `$book`."""
    actor = f"Practitioner/{practitioner.removeprefix('Practitioner/')}" if practitioner \
        else f"Location/{location.removeprefix('Location/')}" if location else None
    search = slot_search_of(None, start or [], end or [], service_type, actor, "open", count,
                            page_token)
    page = await search_slots(pool, search, None)
    more = page["next_cursor"]
    return bundle(request, [clinical.proposed(s) for s in page["slots"]], total=False,
                  next_params={"_page_token": more} if more else None)


@router.post("/Appointment/$hold", responses={409: OUTCOME, 429: OUTCOME})
async def hold_appointment(parameters: Parameters, pool: ReadPool, actor: MaybeActor,
                           holding: HoldingDep, limits: Limits,
                           pseudonym: ClientPseudonym) -> dict[str, Any]:
    """Hold a proposed appointment's slot (as POST /holds). The answer is the appointment,
    `pending`, carrying the hold's id and secret (identifiers: `$book` needs them) and
    when it lapses. A slot held by someone else or already booked is a 409 naming it."""
    slot_id = proposed_slot(reference_in(parameters, "appointment-reference"))
    found, _ = await find_slot(pool, slot_id)
    by_ip = ("holds-ip", limits.address, 60, 60)
    if actor.role is None:
        limits.check(by_ip)
    else:
        limits.check(by_ip, ("holds-subject", actor.subject, 20, 60))
    with naming(slot_id):  # a booked time is refused by the hold itself (slot-taken)
        hold = await run_in_threadpool(holding.hold, HoldCreate(slot_id=slot_id), actor,
                                       pseudonym)
    return clinical.held(clinical.proposed(found), hold)


@router.post("/Appointment/$book", responses={409: OUTCOME, 412: OUTCOME, 422: OUTCOME})
def book_appointment(parameters: Parameters, request: Request, actor: Booker,
                     bookings: BookingsDep, limits: Limits) -> FhirResponse:
    """Book a held (or free) appointment: `appointment-resource` with status `pending`, its
    slot, the patient (staff book for one) and the hold's identifiers; or an existing
    appointment with status `cancelled` (cancel) or another slot (an atomic reschedule).
    `Idempotency-Key` as on POST /bookings; a taken time is a 409 naming the slot. A cancel
    or move with `If-Match` applies only to that version (else 412)."""
    resource = resource_in(parameters, "appointment-resource")
    status, given = resource.get("status"), str(resource.get("id") or "")
    existing = bool(given) and not given.startswith(clinical.PROPOSED)
    if existing and status == "cancelled":
        booked = bookings.cancel(appointment_id_of(resource), "", actor,
                                 expected_version(request))
        return _versioned(booked)
    slot_id = slot_of(resource)
    if existing:  # another slot for a booked appointment: the atomic move
        with naming(slot_id):
            moved = bookings.reschedule(appointment_id_of(resource), Reschedule(
                slot_id=slot_id, **hold_proof(resource)), actor, expected_version(request))
        return _versioned(moved)
    if status != "pending":
        raise InvalidOperationError("a new appointment to $book has status pending")
    limits.check(("book", actor.subject, 30, 60), ("book-ip", limits.address, 120, 60))
    command = BookingCreate(slot_id=slot_id, patient_id=patient_of(resource),
                            **hold_proof(resource))
    with naming(slot_id):
        outcome = bookings.book(command, actor, idempotency_key(request, actor.subject))
    headers = {"Location": f"{BASE}/Appointment/{outcome.result.id}",
               "ETag": etag(outcome.result.version)}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return FhirResponse(clinical.appointment_of(outcome.result), status_code=201,
                        headers=headers)


def _versioned(booking: BookingPublic) -> FhirResponse:
    """A command's answer: the appointment as it now is, its version the ETag."""
    return FhirResponse(clinical.appointment_of(booking),
                        headers={"ETag": etag(booking.version)})


@contextmanager
def naming(slot_id: UUID) -> Iterator[None]:
    """A conflict names the slot in the way (FHIR clients are often left guessing)."""
    try:
        yield
    except ConflictError as exc:
        raise ProblemError("conflict", f"{exc.detail} (Slot/{slot_id})",
                           error=exc.code) from None
