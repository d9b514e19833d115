"""Public read routes: the directory for pickers and slot search. No token, no PHI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from domain.clinics import InvalidClinicError, valid_time_zone
from domain.modality import Modality
from infra.http.deps import ReadPool
from infra.http.inputs import IsoDateTime
from infra.http.query_models import documented, query_of
from queries import directory
from queries.models import (
    AvailabilityPublic,
    ClinicPublic,
    ProviderPublic,
    ServicePublic,
    SlotPage,
)
from queries.slots import InvalidSearchError, SlotSearch, search_slots

router = APIRouter(tags=["directory and search"])  # slot search first: the busiest route


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


@router.get("/slots", response_model=SlotPage, openapi_extra=documented(SlotQuery), responses={
    404: {"description": "A filter names an unknown clinic, service or provider"}})
async def read_slots(request: Request) -> Response:
    """Open, bookable slots sorted by start; follow `next_cursor` for the next page."""
    # The hot path: parameters and collaborators read here, not resolved by FastAPI.
    query = query_of(SlotQuery, request)
    pool, held = request.app.state.search_pool, request.app.state.held_slots
    start = query.start_from or datetime.now(UTC)
    try:
        zone = valid_time_zone(query.tz) if query.tz else None
    except InvalidClinicError:
        raise InvalidSearchError(f"tz '{query.tz}' is not an IANA time zone") from None
    search = SlotSearch(
        start_from=start, start_to=query.start_to or start + timedelta(days=14),
        clinic_id=query.clinic_id, service_id=query.service_id, provider_id=query.provider_id,
        modality=query.modality.value if query.modality else None, display_zone=zone,
        limit=query.limit, cursor=query.cursor,
    )
    # Serialized here, not validated again: this is the hot path (docs/performance.md).
    page = await search_slots(pool, search, held)
    return Response(orjson.dumps(page), media_type="application/json")


@router.get("/clinics", response_model=list[ClinicPublic])
async def read_clinics(pool: ReadPool) -> list[ClinicPublic]:
    """All clinics (FHIR Location), by name."""
    return await directory.list_clinics(pool)


@router.get("/clinics/{clinic_id}", response_model=ClinicPublic)
async def read_clinic(clinic_id: UUID, pool: ReadPool) -> ClinicPublic:
    """One clinic."""
    return await directory.get_clinic(pool, clinic_id)


@router.get("/services", response_model=list[ServicePublic])
async def read_services(pool: ReadPool) -> list[ServicePublic]:
    """All services (FHIR HealthcareService): visit types with duration and modality."""
    return await directory.list_services(pool)


@router.get("/services/{service_id}", response_model=ServicePublic)
async def read_service(service_id: UUID, pool: ReadPool) -> ServicePublic:
    """One service."""
    return await directory.get_service(pool, service_id)


@router.get("/providers", response_model=list[ProviderPublic])
async def read_providers(pool: ReadPool, clinic_id: UUID | None = None,
                   service_id: UUID | None = None) -> list[ProviderPublic]:
    """Providers (FHIR Practitioner), optionally those at a clinic or offering a service."""
    return await directory.list_providers(pool, clinic_id, service_id)


@router.get("/providers/{provider_id}", response_model=ProviderPublic)
async def read_provider(provider_id: UUID, pool: ReadPool) -> ProviderPublic:
    """One provider."""
    return await directory.get_provider(pool, provider_id)


@router.get("/providers/{provider_id}/availability/{clinic_id}",
            response_model=AvailabilityPublic)
async def read_availability(provider_id: UUID, clinic_id: UUID,
                            pool: ReadPool) -> AvailabilityPublic:
    """A provider's published hours at a clinic, in clinic-local time."""
    return await directory.get_availability(pool, provider_id, clinic_id)
