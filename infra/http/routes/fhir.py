"""/fhir/R4: the clinic as FHIR R4 (docs/fhir.md) — the directory, schedules and open slots,
public like /clinics and /slots and answered by the same queries. Errors are
OperationOutcomes (infra/http/problems.py renders them for every /fhir path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlencode
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from commands.inputs import IsoDateTime
from domain.errors import NotFoundError
from infra.fhir import resources
from infra.fhir.search import (
    InvalidFhirSearchError,
    Range,
    local_limit,
    reference_id,
    token_code,
    utc_limit,
)
from infra.http.deps import PublicUrl, ReadPool
from infra.http.fhir import BASE, OUTCOME, FhirResponse, base_url, bundle
from queries.directory import (
    clinic_states,
    get_availability_by_id,
    get_clinic,
    get_provider,
    get_service,
    list_clinics,
    list_providers,
    list_schedules,
    list_services,
)
from queries.models import ClinicPublic, ServicePublic
from queries.slots import (
    SlotSearch,
    catalogue_version,
    find_slot,
    open_slots_after,
    search_slots,
)

NDJSON = "application/fhir+ndjson"
STATUSES = {"free": "open", "busy": "booked"}


router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
Count = Annotated[int, Query(alias="_count", ge=1, le=200)]
Ids = Annotated[str | None, Query(alias="_id", max_length=2000,
                                  description="comma-separated ids")]


@router.get("/metadata")
async def capability_statement(request: Request) -> dict[str, Any]:
    """What this server implements: exactly these resources, searches and operations."""
    return resources.capability_statement(base_url(request), SEARCHES, READS, OPERATIONS)


@router.get("/Location/{location_id}")
async def read_location(location_id: str, pool: ReadPool) -> dict[str, Any]:
    clinic_id, virtual = clinic_of_location(location_id)
    clinic = await get_clinic(pool, clinic_id)
    if virtual and "telehealth" not in clinic.modalities:
        raise NotFoundError(f"no Location/{location_id}")
    return resources.virtual_location(clinic) if virtual else resources.location(clinic)


@router.get("/Location")
async def search_locations(request: Request, pool: ReadPool, _id: Ids = None,
                           name: Annotated[str | None, Query(max_length=200)] = None
                           ) -> dict[str, Any]:
    wanted = _id_set(_id)
    found = [r for clinic in await list_clinics(pool) for r in resources.clinic_locations(clinic)
             if (wanted is None or r["id"] in wanted)
             and (name is None or name.lower() in r["name"].lower())]
    return bundle(request, found)


@router.get("/HealthcareService/{service_id}")
async def read_service(service_id: UUID, pool: ReadPool) -> dict[str, Any]:
    return resources.healthcare_service(await get_service(pool, service_id))


@router.get("/HealthcareService")
async def search_services(request: Request, pool: ReadPool, _id: Ids = None
                          ) -> dict[str, Any]:
    wanted = _id_set(_id)
    found = [resources.healthcare_service(s) for s in await list_services(pool)
             if wanted is None or str(s.id) in wanted]
    return bundle(request, found)


@router.get("/Practitioner/{provider_id}")
async def read_practitioner(provider_id: UUID, pool: ReadPool) -> dict[str, Any]:
    return resources.practitioner(await get_provider(pool, provider_id))


@router.get("/Practitioner")
async def search_practitioners(request: Request, pool: ReadPool, _id: Ids = None,
                               name: Annotated[str | None, Query(max_length=200)] = None
                               ) -> dict[str, Any]:
    wanted = _id_set(_id)
    found = [resources.practitioner(p) for p in await list_providers(pool, None, None)
             if (wanted is None or str(p.id) in wanted)
             and (name is None or name.lower() in p.display_name.lower())]
    return bundle(request, found)


@router.get("/PractitionerRole/{role_id}")
async def read_practitioner_role(role_id: UUID, pool: ReadPool) -> dict[str, Any]:
    for found in await _roles(pool, None, None, None):
        if found["id"] == str(role_id):
            return found
    raise NotFoundError(f"no PractitionerRole/{role_id}")


@router.get("/PractitionerRole")
async def search_practitioner_roles(
        request: Request, pool: ReadPool,
        practitioner: Annotated[str | None, Query(max_length=100)] = None,
        location: Annotated[str | None, Query(max_length=100)] = None,
        service: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, Any]:
    provider_id = reference_id("practitioner", practitioner, "Practitioner") \
        if practitioner else None
    clinic_id = clinic_of_location(location, "location")[0] if location else None
    service_id = reference_id("service", service, "HealthcareService") if service else None
    return bundle(request, await _roles(pool, provider_id, clinic_id, service_id))


@router.get("/Schedule/{schedule_id}")
async def read_schedule(schedule_id: UUID, pool: ReadPool) -> dict[str, Any]:
    availability = await get_availability_by_id(pool, schedule_id)
    provider = await get_provider(pool, availability.provider_id)
    return resources.schedule(availability, provider, await _services(pool))


@router.get("/Schedule")
async def search_schedules(request: Request, pool: ReadPool,
                           actor: Annotated[str | None, Query(max_length=100)] = None,
                           _id: Ids = None) -> dict[str, Any]:
    provider_id = clinic_id = None
    if actor and actor.startswith("Location/"):
        clinic_id = clinic_of_location(actor, "actor")[0]
    elif actor:
        provider_id = reference_id("actor", actor, "Practitioner")
    wanted = _id_set(_id)
    found = [s async for s in _schedule_resources(pool, provider_id, clinic_id)
             if wanted is None or s["id"] in wanted]
    return bundle(request, found)


BULK_TYPES = ("Location", "Schedule", "Slot")
BULK_PAGE = 5000


BulkState = Annotated[str | None, Query(max_length=50, description=(
    "Only clinics in this state of their address (the manifest's `extension.state`)"))]
BulkSince = Annotated[IsoDateTime | None, Query(alias="_since", description=(
    "Only Locations and Schedules changed since (Slots are always the whole bookable set)"))]


@router.get("/$bulk-publish", responses={304: {"description": "Not modified"}})
async def bulk_publish(request: Request, pool: ReadPool, since: BulkSince = None) -> Response:
    """SMART Scheduling Links: the manifest of the Location, Schedule and Slot files an
    aggregator fetches, one of each per state the clinics are in (cacheable: ETag and
    Last-Modified change when the slots do). `_since` is passed on to the files."""
    cached, headers, changed = await _validators(request, pool)
    if cached:
        return Response(status_code=304, headers=headers)
    base = base_url(request)
    passed = {"_since": since.isoformat()} if since else {}
    manifest = {"transactionTime": (changed or datetime.now(UTC)).astimezone(UTC).isoformat(),
                "request": str(request.url),
                "output": [{"type": kind, "url": f"{base}/$bulk-publish/{kind}.ndjson?"
                                                 + urlencode({"state": state, **passed}),
                            "extension": {"state": [state]}}
                           for state in await clinic_states(pool) for kind in BULK_TYPES],
                "error": []}
    return FhirResponse(manifest, headers=headers)


@router.get("/$bulk-publish/{kind}.ndjson", response_class=StreamingResponse, responses={
    200: {"description": "One resource per line",
          "content": {NDJSON: {"schema": {"type": "string"}}}},
    304: {"description": "Not modified"}})
async def bulk_publish_file(kind: Literal["Location", "Schedule", "Slot"], request: Request,
                            pool: ReadPool, public_url: PublicUrl, state: BulkState = None,
                            since: BulkSince = None) -> Response:
    """One ndjson file of the publication, streamed: the clinic (and virtual) Locations,
    the Schedules, the bookable Slots with their booking deep links — of every clinic, or
    of one state's."""
    cached, headers, _ = await _validators(request, pool)
    if cached:
        return Response(status_code=304, headers=headers)
    lines = {"Location": _locations, "Schedule": _schedules, "Slot": _slots}[kind]
    return StreamingResponse(lines(pool, Published(public_url, state, since)),
                             media_type=NDJSON, headers=headers)


class Published(NamedTuple):
    """What one bulk file covers."""

    public_url: str
    state: str | None
    since: datetime | None


async def _validators(request: Request, pool: ReadPool
                      ) -> tuple[bool, dict[str, str], datetime | None]:
    """Whether the caller's copy is current, the caching headers, when the slots changed."""
    position, changed = await catalogue_version(pool)
    etag = f'W/"slots-{position}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if changed is not None:
        headers["Last-Modified"] = format_datetime(changed.astimezone(UTC), usegmt=True)
    return request.headers.get("if-none-match") == etag, headers, changed


async def _locations(pool: ReadPool, covered: Published) -> AsyncIterator[bytes]:
    for clinic in await list_clinics(pool, covered.state, covered.since):
        for location in resources.clinic_locations(clinic):
            yield _line(location)


async def _schedules(pool: ReadPool, covered: Published) -> AsyncIterator[bytes]:
    clinics = None if covered.state is None else {
        c.id for c in await list_clinics(pool, covered.state)}
    async for schedule in _schedule_resources(pool, None, None, covered.since, clinics):
        yield _line(schedule)


async def _schedule_resources(pool: ReadPool, provider_id: UUID | None,
                              clinic_id: UUID | None, since: datetime | None = None,
                              clinics: set[UUID] | None = None
                              ) -> AsyncIterator[dict[str, Any]]:
    """Schedules as FHIR (of `clinics` only, if given), from three reads (schedules,
    providers, services)."""
    services = await _services(pool)
    providers = {p.id: p for p in await list_providers(pool, None, None)}
    for availability in await list_schedules(pool, provider_id, clinic_id, since):
        if availability.provider_id in providers and (
                clinics is None or availability.clinic_id in clinics):
            yield resources.schedule(availability, providers[availability.provider_id],
                                     services)


async def _slots(pool: ReadPool, covered: Published) -> AsyncIterator[bytes]:
    after = UUID(int=0)
    while True:
        page = await open_slots_after(pool, after, BULK_PAGE, covered.state)
        for row in page:
            yield _line(resources.bookable(resources.slot(row, "free"), covered.public_url))
        if len(page) < BULK_PAGE:
            return
        after = UUID(page[-1]["id"])


def _line(resource: dict[str, Any]) -> bytes:
    return orjson.dumps(resource) + b"\n"


@router.get("/Slot/{slot_id}")
async def read_slot(slot_id: UUID, pool: ReadPool) -> dict[str, Any]:
    row, status = await find_slot(pool, slot_id)
    return resources.slot(row, "free" if status == "open" else "busy")


@router.get("/Slot")
async def search_fhir_slots(
        request: Request, pool: ReadPool,
        schedule: Annotated[str | None, Query(max_length=100)] = None,
        start: Annotated[list[str] | None, Query(max_length=40)] = None,
        end: Annotated[list[str] | None, Query(max_length=40)] = None,
        service_type: Annotated[str | None, Query(alias="service-type", max_length=200)] = None,
        schedule_actor: Annotated[str | None, Query(alias="schedule.actor",
                                                    max_length=100)] = None,
        status: Annotated[str, Query(pattern="^(free|busy)$")] = "free",
        count: Count = 50,
        page_token: Annotated[str | None, Query(alias="_page_token", max_length=200)] = None,
) -> dict[str, Any]:
    """Free (or busy) slots by schedule, start (ge/gt/le/lt/eq; a date is a day in the
    clinic's zone), end, service type and the schedule's actor; `next` links page on."""
    search = slot_search_of(schedule, start or [], end or [], service_type, schedule_actor,
                          STATUSES[status], count, page_token)
    page = await search_slots(pool, search, None)
    found = [resources.slot(row, status) for row in page["slots"]]
    more = page["next_cursor"]
    return bundle(request, found, total=False,  # counting every match is not cheap here
                   next_params={"_page_token": more} if more else None)


def slot_search_of(schedule: str | None, start: list[str], end: list[str],
                 service_type: str | None, schedule_actor: str | None, status: str,
                 count: int, page_token: str | None) -> SlotSearch:
    starts, ends = Range(), Range()
    for value in start:
        starts.add("start", value)
    for value in end:
        ends.add("end", value)
    provider_id = clinic_id = None
    if schedule_actor and schedule_actor.startswith("Location/"):
        clinic_id = clinic_of_location(schedule_actor, "schedule.actor")[0]
    elif schedule_actor:
        provider_id = reference_id("schedule.actor", schedule_actor, "Practitioner")
    now = datetime.now(UTC)
    start_from = utc_limit(starts.lower, lower=True) or now
    start_to = utc_limit(starts.upper, lower=False) or start_from + timedelta(days=14)
    return SlotSearch(
        start_from=start_from, start_to=start_to,
        schedule_id=reference_id("schedule", schedule, "Schedule") if schedule else None,
        service_id=token_code("service-type", service_type, resources.SERVICE_SYSTEM)
        if service_type else None,
        provider_id=provider_id,
        clinic_id=clinic_id, status=status,
        local_start_from=local_limit(starts.lower, lower=True),
        local_start_to=local_limit(starts.upper, lower=False),
        end_from=utc_limit(ends.lower, lower=True, window=False),
        end_to=utc_limit(ends.upper, lower=False, window=False),
        local_end_from=local_limit(ends.lower, lower=True),
        local_end_to=local_limit(ends.upper, lower=False),
        limit=count, cursor=page_token)


def clinic_of_location(text: str, parameter: str | None = None) -> tuple[UUID, bool]:
    """The clinic a Location id (`Location/` optional) names, and whether it is the clinic's
    virtual Location. Anything else names no Location: a 404 on a read, a bad `parameter`
    (400) in a search."""
    given = text.removeprefix("Location/")
    virtual = given.startswith(resources.VIRTUAL)
    try:
        return UUID(given.removeprefix(resources.VIRTUAL)), virtual
    except ValueError:
        if parameter is not None:
            raise InvalidFhirSearchError(f"{parameter}: {text!r} is not a Location "
                                         "reference") from None
        raise NotFoundError(f"no Location/{text}") from None


def _id_set(ids: str | None) -> set[str] | None:
    return None if ids is None else {i.strip() for i in ids.split(",") if i.strip()}


async def _services(pool: ReadPool) -> dict[UUID, ServicePublic]:
    return {s.id: s for s in await list_services(pool)}


async def _roles(pool: ReadPool, provider_id: UUID | None, clinic_id: UUID | None,
                 service_id: UUID | None) -> list[dict[str, Any]]:
    clinics: dict[UUID, ClinicPublic] = {c.id: c for c in await list_clinics(pool)}
    found = []
    for provider in await list_providers(pool, clinic_id, service_id):
        if provider_id is not None and provider.id != provider_id:
            continue
        for clinic in provider.clinic_ids:
            if clinic in clinics and (clinic_id is None or clinic == clinic_id):
                found.append(resources.practitioner_role(provider, clinics[clinic]))
    return found


SEARCHES: dict[str, list[tuple[str, str, str]]] = {
    # resource -> (search parameter, type, what it matches)
    "Location": [("_id", "token", "ids"), ("name", "string", "part of the name")],
    "HealthcareService": [("_id", "token", "ids")],
    "Practitioner": [("_id", "token", "ids"), ("name", "string", "part of the name")],
    "PractitionerRole": [("practitioner", "reference", "the provider"),
                         ("location", "reference", "the clinic"),
                         ("service", "reference", "a HealthcareService they offer")],
    "Schedule": [("_id", "token", "ids"),
                 ("actor", "reference", "Practitioner/<id> or Location/<id>")],
    "Slot": [("schedule", "reference", "the Schedule"),
             ("start", "date", "eq/ge/gt/le/lt; a date is a day in the clinic's zone"),
             ("end", "date", "eq/ge/gt/le/lt (not in the base spec)"),
             ("service-type", "token", f"{resources.SERVICE_SYSTEM}|<service id>"),
             ("schedule.actor", "reference", "chained: Practitioner/<id> or Location/<id>"),
             ("status", "token", "free (default) or busy"),
             ("_count", "number", "page size, at most 200")],
    "Appointment": [("patient", "reference", "the patient's appointments"),
                    ("practitioner", "reference", "the provider's (with a date range)"),
                    ("location", "reference", "at the clinic (with a date range)"),
                    ("date", "date", "the start: eq/ge/gt/le/lt; a date is a clinic-local day"),
                    ("status", "token", "comma-separated statuses"),
                    ("_lastUpdated", "date", "last change: eq/ge/gt/le/lt (a date is a UTC "
                                             "day)"),
                    ("_count", "number", "page size, at most 200")],
    "Patient": [],
    "Consent": [("patient", "reference", "the patient's consent answers")],
}
READS = frozenset({"Location", "HealthcareService", "Practitioner", "PractitionerRole",
                   "Schedule", "Slot", "Appointment", "Patient"})
IHE = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/"
OPERATIONS = {"find": f"{IHE}appointment-find", "hold": f"{IHE}appointment-hold",
              "book": f"{IHE}appointment-book",
              "bulk-publish": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/bulk-publish"}
