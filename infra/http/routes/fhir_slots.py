"""/fhir/R4/Slot: free (or busy) slots, read one or searched, answered by slot search's own
queries (docs/fhir.md)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from infra.fhir import resources
from infra.http.deps import ReadPool
from infra.http.fhir import BASE, OUTCOME, FhirResponse, bundle
from infra.http.fhir_search import slot_search_of
from queries.slots import find_slot, search_slots

STATUSES = {"free": "open", "busy": "booked"}


router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
Count = Annotated[int, Query(alias="_count", ge=1, le=200)]


@router.get("/Slot/{slot_id}")
async def read_slot(slot_id: UUID, pool: ReadPool) -> dict[str, Any]:
    row, status = await find_slot(pool, slot_id)
    return resources.slot(row, "free" if status == "open" else "busy")


@router.get("/Slot", response_model=dict[str, Any])
async def search_fhir_slots(
        request: Request, pool: ReadPool,
        _id: Annotated[str | None, Query(alias="_id", max_length=1000,
                                         description="comma-separated ids")] = None,
        schedule: Annotated[str | None, Query(max_length=100)] = None,
        start: Annotated[list[str] | None, Query(max_length=40)] = None,
        end: Annotated[list[str] | None, Query(max_length=40)] = None,
        service_type: Annotated[str | None, Query(alias="service-type", max_length=200)] = None,
        schedule_actor: Annotated[str | None, Query(alias="schedule.actor",
                                                    max_length=100)] = None,
        status: Annotated[str, Query(pattern="^(free|busy)$")] = "free",
        count: Count = 50,
        page_token: Annotated[str | None, Query(alias="_page_token", max_length=200)] = None,
) -> FhirResponse:
    """Free (or busy) slots by id, schedule, start (ge/gt/le/lt/eq; a date is a day in the
    clinic's zone), end, service type and the schedule's actor; `next` links page on."""
    search = slot_search_of(schedule, start or [], end or [], service_type, schedule_actor,
                          STATUSES[status], count, page_token, _id)
    page = await search_slots(pool, search, None)
    found = [resources.slot(row, status) for row in page["slots"]]
    more = page["next_cursor"]
    # The Bundle as it is (no response-model pass over fifty resources): the hot path.
    return FhirResponse(bundle(request, found, total=False,  # counting every match: not cheap
                               next_params={"_page_token": more} if more else None))
