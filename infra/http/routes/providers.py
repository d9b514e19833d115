"""/providers (FHIR Practitioner): the directory, their hours, and their day's schedule."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response

from commands.context import Actor
from commands.inputs import IsoDate
from commands.models import AvailabilityIn, ProviderCreate
from domain.access import Scope
from infra.http.audit import record_read_async
from infra.http.deps import DirectoryDep, ReadPool
from infra.http.routes.tags import ADMIN, CREATED, PUBLIC
from infra.http.security import Acting
from queries import appointments, directory
from queries.models import AppointmentView, AvailabilityPublic, ProviderPublic

router = APIRouter(prefix="/providers")
Admin = Annotated[Actor, Acting(Scope.directory_write)]
HoursEditor = Annotated[Actor, Acting(Scope.availability_write)]
ScheduleReader = Annotated[Actor, Acting(Scope.schedule_read)]


@router.get("", response_model=list[ProviderPublic], tags=PUBLIC)
async def read_providers(pool: ReadPool, clinic_id: UUID | None = None,
                         service_id: UUID | None = None) -> list[ProviderPublic]:
    """Providers (FHIR Practitioner), optionally those at a clinic or offering a service."""
    return await directory.list_providers(pool, clinic_id, service_id)


@router.get("/{provider_id}", response_model=ProviderPublic, tags=PUBLIC)
async def read_provider(provider_id: UUID, pool: ReadPool) -> ProviderPublic:
    """One provider."""
    return await directory.get_provider(pool, provider_id)


@router.post("", status_code=201, response_model=ProviderPublic, responses=CREATED, tags=ADMIN)
def create_provider(body: ProviderCreate, actor: Admin, providers: DirectoryDep,
                    response: Response) -> ProviderPublic:
    """Register a provider with the clinics they work at and the services they offer."""
    provider = providers.register_provider(body, actor)
    response.headers["Location"] = f"/providers/{provider.id}"
    return ProviderPublic(**provider.summary())


@router.put("/{provider_id}", response_model=ProviderPublic, tags=ADMIN)
def update_provider(provider_id: UUID, body: ProviderCreate, actor: Admin,
                    providers: DirectoryDep) -> ProviderPublic:
    """Change a provider's name, clinics or services."""
    return ProviderPublic(**providers.revise_provider(provider_id, body, actor).summary())


@router.get("/{provider_id}/availability/{clinic_id}", response_model=AvailabilityPublic,
            tags=PUBLIC)
async def read_availability(provider_id: UUID, clinic_id: UUID,
                            pool: ReadPool) -> AvailabilityPublic:
    """A provider's published hours at a clinic, in clinic-local time."""
    return await directory.get_availability(pool, provider_id, clinic_id)


@router.put("/{provider_id}/availability/{clinic_id}", response_model=AvailabilityPublic,
            tags=ADMIN,
            responses={409: {"description": "Booked visits would fall outside the new hours"}})
def publish_availability(provider_id: UUID, clinic_id: UUID, body: AvailabilityIn,
                         actor: HoursEditor, providers: DirectoryDep) -> AvailabilityPublic:
    """Publish a provider's hours at a clinic (admin, or the provider themself)."""
    schedule = providers.publish_availability(provider_id, clinic_id, body, actor)
    return AvailabilityPublic(schedule_id=schedule.id, provider_id=provider_id,
                              clinic_id=clinic_id, rules=schedule.rules_data)


@router.get("/{provider_id}/schedule", response_model=list[AppointmentView],
            tags=["appointments"])
async def read_provider_schedule(provider_id: UUID, day: Annotated[IsoDate, "clinic-local"],
                                 request: Request, actor: ScheduleReader,
                                 pool: ReadPool) -> list[AppointmentView]:
    """A provider's appointments on one clinic-local date (`?day=2026-12-01`)."""
    rows = await appointments.read_provider_day(pool, actor, provider_id, day)
    await record_read_async(request, actor, record_id=f"{provider_id}/{day}",
                            patient_ids=[r["patient_id"] for r in rows])
    return [AppointmentView(**r) for r in rows]
