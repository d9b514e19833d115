"""/fhir/R4/$bulk-publish: SMART Scheduling Links, the manifest and the ndjson files of
Locations, Schedules and bookable Slots an aggregator fetches (docs/fhir.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlencode
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from commands.inputs import IsoDateTime
from infra.fhir import resources
from infra.http.deps import PublicUrl, ReadPool
from infra.http.fhir import BASE, OUTCOME, FhirResponse, base_url
from infra.http.routes.fhir_directory import schedule_resources
from queries.directory import clinic_states, list_clinics
from queries.slots import catalogue_version, open_slots_after

NDJSON = "application/fhir+ndjson"


router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
BULK_TYPES = ("Location", "Schedule", "Slot")
BULK_PAGE = 5000


BulkState = Annotated[str | None, Query(max_length=50, description=(
    "Only clinics in this state of their address (the manifest's `extension.state`)"))]
BulkSince = Annotated[IsoDateTime | None, Query(alias="_since", description=(
    "Only Locations and Schedules changed since (Slots are always the whole bookable set)"))]


@router.get("/$bulk-publish", responses={304: {"description": "Not modified"}})
async def bulk_publish(request: Request, pool: ReadPool, since: BulkSince = None) -> Response:
    """SMART Scheduling Links: the manifest of the Location, Schedule and Slot files an
    aggregator fetches, one of each per state the clinics are in (cacheable: the ETag
    changes when the slots do and answers If-None-Match; Last-Modified is the directory's
    last change, so If-Modified-Since is not honoured). `_since` is passed on to the files."""
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
    async for schedule in schedule_resources(pool, None, None, covered.since, clinics):
        yield _line(schedule)


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
