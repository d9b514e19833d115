"""/fhir/R4 Appointment and Patient, and booking through FHIR after the IHE ITI Scheduling
guide: `$find` (proposed appointments from open slots), `$hold` (our hold), `$book` (our
booking command; also cancel, and reschedule as one atomic move). The same use cases, access
rules, PHI-read audit and purposes of use as the JSON API (docs/fhir.md)."""

from __future__ import annotations

import datetime as dt
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
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from infra.fhir import clinical
from infra.fhir.search import (
    LOCAL_SLACK,
    Bound,
    InvalidFhirSearchError,
    Range,
    local_limit,
    reference_id,
    utc_limit,
)
from infra.http.audit import record_read, record_read_async
from infra.http.deps import (
    BookingsDep,
    ClientPseudonym,
    ConsentsDep,
    HoldingDep,
    Limits,
    PatientsDep,
    PhiDep,
    PublicUrl,
    ReadPool,
)
from infra.http.fhir import BASE, OUTCOME, FhirResponse, bundle
from infra.http.problems import ProblemError
from infra.http.responses import etag, expected_version, idempotency_key
from infra.http.routes.fhir import clinic_of_location, slot_search_of
from infra.http.security import Acting, MaybeActor
from infra.postgres.appointments import reason_context
from queries import appointments
from queries.appointments import AppointmentSearch
from queries.slots import find_slot, search_slots

router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
Reader = Annotated[Actor, Acting(Scope.bookings_read)]
Booker = Annotated[Actor, Acting(Scope.bookings_write)]
PatientReader = Annotated[Actor, Acting(Scope.patients_read)]
Parameters = Annotated[dict[str, Any], Body(media_type="application/fhir+json")]


class InvalidOperationError(InvalidInputError):
    code = "invalid-fhir-operation"


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
    when it lapses."""
    slot_id = _proposed_slot(_reference(parameters, "appointment-reference"))
    found, _ = await find_slot(pool, slot_id)
    by_ip = ("holds-ip", limits.address, 60, 60)
    if actor.role is None:
        limits.check(by_ip)
    else:
        limits.check(by_ip, ("holds-subject", actor.subject, 20, 60))
    hold = await run_in_threadpool(holding.hold, HoldCreate(slot_id=slot_id), actor, pseudonym)
    return clinical.held(clinical.proposed(found), hold)


@router.post("/Appointment/$book", responses={409: OUTCOME, 412: OUTCOME, 422: OUTCOME})
def book_appointment(parameters: Parameters, request: Request, actor: Booker,
                     bookings: BookingsDep, limits: Limits) -> FhirResponse:
    """Book a held (or free) appointment: `appointment-resource` with status `pending`, its
    slot, the patient (staff book for one) and the hold's identifiers; or an existing
    appointment with status `cancelled` (cancel) or another slot (an atomic reschedule).
    `Idempotency-Key` as on POST /bookings; a taken time is a 409 naming the slot. A cancel
    or move with `If-Match` applies only to that version (else 412)."""
    resource = _resource(parameters, "appointment-resource")
    status, given = resource.get("status"), str(resource.get("id") or "")
    existing = bool(given) and not given.startswith(clinical.PROPOSED)
    if existing and status == "cancelled":
        booked = bookings.cancel(_appointment_id(resource), "", actor,
                                 expected_version(request))
        return _versioned(booked)
    slot_id = _slot_of(resource)
    if existing:  # another slot for a booked appointment: the atomic move
        with _naming(slot_id):
            moved = bookings.reschedule(_appointment_id(resource), Reschedule(
                slot_id=slot_id, **_hold_proof(resource)), actor, expected_version(request))
        return _versioned(moved)
    if status != "pending":
        raise InvalidOperationError("a new appointment to $book has status pending")
    limits.check(("book", actor.subject, 30, 60), ("book-ip", limits.address, 120, 60))
    command = BookingCreate(slot_id=slot_id, patient_id=_patient_of(resource),
                            **_hold_proof(resource))
    with _naming(slot_id):
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


@router.get("/Appointment/{appointment_id:uuid}")
async def read_appointment(appointment_id: UUID, request: Request, actor: Reader,
                           pool: ReadPool, phi: PhiDep) -> FhirResponse:
    """As GET /bookings/{id}: the same access rule, the read audited, the reason opened;
    `meta.versionId` and the `ETag` are the appointment's version (If-Match on `$book`)."""
    row = await appointments.read_appointment(pool, actor, appointment_id)
    await record_read_async(request, actor, patient_id=row["patient_id"],
                            record_id=appointment_id)
    reason = await run_in_threadpool(phi.open_text, row["reason"],
                                     reason_context(appointment_id))
    return FhirResponse(clinical.appointment(row, reason),
                        headers={"ETag": etag(row["version"])})


MAX_SPAN = dt.timedelta(days=93)


@router.get("/Appointment")
async def search_appointments(
        request: Request, actor: Reader, pool: ReadPool,
        patient: Annotated[str | None, Query(max_length=100)] = None,
        practitioner: Annotated[str | None, Query(max_length=100)] = None,
        location: Annotated[str | None, Query(max_length=100)] = None,
        date: Annotated[list[str] | None, Query(max_length=40, description=(
            "The start: eq (a date alone is that clinic-local day), ge, gt, le, lt"))] = None,
        status: Annotated[str | None, Query(max_length=100, description="comma-separated")]
        = None,
        last_updated: Annotated[list[str] | None, Query(alias="_lastUpdated",
                                                        max_length=40)] = None,
        count: Annotated[int, Query(alias="_count", ge=1, le=200)] = 100,
        page_token: Annotated[str | None, Query(alias="_page_token", max_length=200)] = None,
) -> dict[str, Any]:
    """Appointments by patient, practitioner or location (at least one), optionally by
    start date, status and last change: a patient sees their own, a provider their own
    visits, staff their clinics' (as the JSON lists). Without a patient, a date range of
    at most 93 days is needed. No visit reasons in a search; pages follow `next`."""
    if patient is None and practitioner is None and location is None:
        raise InvalidOperationError("search by patient, practitioner or location")
    starts, changed = Range(), Range()
    for value in date or []:
        starts.add("date", value)
    for value in last_updated or []:
        changed.add("_lastUpdated", value)
    start_from = utc_limit(starts.lower, lower=True)
    start_to = utc_limit(starts.upper, lower=False)
    if patient is None and (start_from is None or start_to is None
                            or start_to - start_from > MAX_SPAN + 2 * LOCAL_SLACK):
        raise InvalidFhirSearchError("without a patient, give a date range (date=ge…&"
                                     "date=lt…) of at most 93 days")
    search = AppointmentSearch(
        patient_id=reference_id("patient", patient, "Patient") if patient else None,
        provider_id=reference_id("practitioner", practitioner, "Practitioner")
        if practitioner else None,
        clinic_id=clinic_of_location(location, "location")[0] if location else None,
        start_from=start_from, start_to=start_to,
        local_from=local_limit(starts.lower, lower=True),
        local_to=local_limit(starts.upper, lower=False),
        updated_from=_utc_day(changed.lower, lower=True),
        updated_to=_utc_day(changed.upper, lower=False),
        statuses=_statuses(status), limit=count, cursor=page_token)
    rows, more = await appointments.search_appointments(pool, actor, search)
    await record_read_async(request, actor, patient_id=search.patient_id,
                            patient_ids=[r["patient_id"] for r in rows])
    return bundle(request, [clinical.appointment(row, None) for row in rows], total=False,
                  next_params={"_page_token": more} if more else None)


def _statuses(given: str | None) -> tuple[str, ...] | None:
    """FHIR appointment statuses as ours; one we never use matches nothing."""
    if not given:
        return None
    ours = {fhir: own for own, fhir in clinical.STATUSES.items()}
    return tuple(ours.get(s.strip(), s.strip()) for s in given.split(","))


def _utc_day(bound: Bound | None, *, lower: bool) -> dt.datetime | None:
    """`_lastUpdated` bounds: a date alone is a UTC day (the change times are instants)."""
    if bound is not None and bound.local:
        bound = Bound(bound.at.replace(tzinfo=dt.UTC), local=False,
                      inclusive=bound.inclusive)
    return utc_limit(bound, lower=lower, window=False)


@router.get("/Patient/{patient_id}")
def read_patient(patient_id: UUID, request: Request, actor: PatientReader,
                 patients: PatientsDep) -> dict[str, Any]:
    """As GET /patients/{id}: the patient themself, or staff with a purpose of use."""
    profile = patients.profile(patient_id, actor)
    record_read(request, actor, patient_id=patient_id, record_id=patient_id)
    return clinical.patient(profile)


@contextmanager
def _naming(slot_id: UUID) -> Iterator[None]:
    """A conflict names the slot in the way (FHIR clients are often left guessing)."""
    try:
        yield
    except ConflictError as exc:
        raise ProblemError("conflict", f"{exc.detail} (Slot/{slot_id})",
                           error=exc.code) from None


@router.get("/Consent")
def search_consents(request: Request, actor: PatientReader, consents: ConsentsDep,
                    public_url: PublicUrl,
                    patient: Annotated[str, Query(max_length=100)]) -> dict[str, Any]:
    """A patient's consent answers, one per purpose (as GET /patients/{id}/consents), each
    with its signed receipt attached and the policy text it was given against."""
    patient_id = reference_id("patient", patient, "Patient")
    receipts = consents.receipts(patient_id, actor)
    record_read(request, actor, patient_id=patient_id)
    return bundle(request, [clinical.consent(
        r, f"{public_url}/consent-policies/{r.receipt['policy_sha256']}") for r in receipts])


def _parameter(parameters: dict[str, Any], name: str) -> dict[str, Any]:
    if parameters.get("resourceType") != "Parameters":
        raise InvalidOperationError("the body is a FHIR Parameters resource")
    for parameter in parameters.get("parameter") or []:
        if isinstance(parameter, dict) and parameter.get("name") == name:
            return parameter
    raise InvalidOperationError(f"the {name} parameter is required")


def _reference(parameters: dict[str, Any], name: str) -> str:
    value = _parameter(parameters, name).get("valueReference") or {}
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str):
        raise InvalidOperationError(f"{name} is a valueReference")
    return reference


def _resource(parameters: dict[str, Any], name: str) -> dict[str, Any]:
    resource = _parameter(parameters, name).get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
        raise InvalidOperationError(f"{name} is an Appointment resource")
    return resource


def _proposed_slot(reference: str) -> UUID:
    given = reference.rsplit("/", 1)[-1]
    if not given.startswith(clinical.PROPOSED):
        raise NotFoundError(f"no proposed appointment {reference}: use one $find returned")
    return reference_id("appointment-reference", given.removeprefix(clinical.PROPOSED),
                        "Appointment")


def _appointment_id(resource: dict[str, Any]) -> UUID:
    return reference_id("Appointment.id", str(resource.get("id")), "Appointment")


def _slot_of(resource: dict[str, Any]) -> UUID:
    slots = resource.get("slot") or []
    if len(slots) != 1 or not isinstance(slots[0], dict):
        raise InvalidOperationError("the appointment names exactly one slot")
    return reference_id("Appointment.slot", str(slots[0].get("reference")), "Slot")


def _patient_of(resource: dict[str, Any]) -> UUID | None:
    """The patient participant (a patient may name only themself: the use case checks)."""
    for participant in resource.get("participant") or []:
        reference = (participant.get("actor") or {}).get("reference", "") \
            if isinstance(participant, dict) else ""
        if isinstance(reference, str) and reference.startswith("Patient/"):
            return reference_id("participant", reference, "Patient")
    return None


def _hold_proof(resource: dict[str, Any]) -> dict[str, Any]:
    identifiers = {i.get("system"): i.get("value") for i in resource.get("identifier") or []
                   if isinstance(i, dict)}
    hold = identifiers.get(clinical.HOLD_SYSTEM)
    return {"hold_id": reference_id("identifier", str(hold), "hold") if hold else None,
            "hold_secret": identifiers.get(clinical.HOLD_SECRET_SYSTEM)}
