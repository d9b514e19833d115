"""/fhir/R4/Appointment: read one, or search by patient, practitioner or location. The same
access rules, PHI-read audit and purposes of use as GET /bookings (docs/fhir.md); booking
through FHIR is routes/fhir_operations.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from commands.context import Actor
from domain.access import Scope
from infra.fhir import clinical
from infra.fhir.search import (
    LOCAL_SLACK,
    Bound,
    InvalidFhirSearchError,
    Range,
    ids_of,
    local_limit,
    reference_id,
    utc_limit,
)
from infra.http.audit import record_read_async
from infra.http.deps import PhiDep, ReadPool
from infra.http.fhir import BASE, OUTCOME, FhirResponse, bundle
from infra.http.fhir_parameters import InvalidOperationError
from infra.http.fhir_search import clinic_of_location
from infra.http.responses import etag
from infra.http.security import Acting
from infra.postgres.appointments import reason_context
from queries import appointments
from queries.appointments import AppointmentSearch

router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
Reader = Annotated[Actor, Acting(Scope.bookings_read)]


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
        _id: Annotated[str | None, Query(alias="_id", max_length=1000,
                                         description="comma-separated ids")] = None,
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
    """Appointments by id, patient, practitioner or location (at least one), optionally by
    start date, status and last change: a patient sees their own, a provider their own
    visits, staff their clinics' (as the JSON lists). Without an id or a patient, a date
    range of at most 93 days is needed. No visit reasons in a search; pages follow `next`."""
    if _id is None and patient is None and practitioner is None and location is None:
        raise InvalidOperationError("search by _id, patient, practitioner or location")
    ids = ids_of(_id, "Appointment") if _id is not None else None
    starts, changed = Range(), Range()
    for value in date or []:
        starts.add("date", value)
    for value in last_updated or []:
        changed.add("_lastUpdated", value)
    start_from = utc_limit(starts.lower, lower=True)
    start_to = utc_limit(starts.upper, lower=False)
    if ids is None and patient is None and (start_from is None or start_to is None
                            or start_to - start_from > MAX_SPAN + 2 * LOCAL_SLACK):
        raise InvalidFhirSearchError("without _id or a patient, give a date range (date=ge…&"
                                     "date=lt…) of at most 93 days")
    search = AppointmentSearch(
        patient_id=reference_id("patient", patient, "Patient") if patient else None,
        provider_id=reference_id("practitioner", practitioner, "Practitioner")
        if practitioner else None, ids=ids,
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
