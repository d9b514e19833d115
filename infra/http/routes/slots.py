"""/slots: search open, bookable times (public, no PHI): the busiest route of all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from commands.inputs import IsoDateTime
from domain.clinics import InvalidClinicError, valid_time_zone
from domain.modality import Modality
from infra.http.deps import search_of
from infra.http.query_models import documented, query_of
from queries.cursors import InvalidSearchError
from queries.models import SlotPage
from queries.slots import SlotSearch, search_slots, search_window

router = APIRouter(prefix="/slots", tags=["directory and search"])


class SlotQuery(BaseModel):
    """GET /slots's query parameters (infra/http/query_models.py: read in one validation)."""

    clinic_id: UUID | None = None
    service_id: UUID | None = None
    provider_id: UUID | None = None
    modality: Modality | None = None
    start_from: Annotated[IsoDateTime | None, Field(description="UTC instant; default now")] = None
    start_to: Annotated[IsoDateTime | None, Field(description="default start_from + 14 days")] \
        = None
    tz: Annotated[str | None, Field(max_length=64, description="IANA zone for display_*",
                                    examples=["America/Denver"])] = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str | None, Field(max_length=200)] = None


@router.get("", response_model=SlotPage, openapi_extra=documented(SlotQuery), responses={
    404: {"description": "A filter names an unknown clinic, service or provider"}})
async def read_slots(request: Request) -> Response:
    """Open, bookable slots sorted by start; follow `next_cursor` for the next page."""
    # The hot path: parameters and collaborators read here, not resolved by FastAPI
    # (docs/decisions/0028-hot-read-without-parameter-resolution.md).
    query = query_of(SlotQuery, request)
    pool, held = search_of(request)
    start, end = search_window(query.start_from, query.start_to, datetime.now(UTC))
    try:
        zone = valid_time_zone(query.tz) if query.tz else None
    except InvalidClinicError:
        raise InvalidSearchError("tz is not an IANA time zone (e.g. America/New_York)") from None
    search = SlotSearch(
        start_from=start, start_to=end,
        clinic_id=query.clinic_id, service_id=query.service_id, provider_id=query.provider_id,
        modality=query.modality.value if query.modality else None, display_zone=zone,
        limit=query.limit, cursor=query.cursor,
    )
    # Serialized here, not validated again: this is the hot path (docs/performance.md).
    page = await search_slots(pool, search, held)
    return Response(orjson.dumps(page), media_type="application/json")
