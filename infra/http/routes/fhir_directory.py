"""/fhir/R4: the clinic's directory as FHIR R4 (docs/fhir.md): what the server implements
(/metadata), Locations, HealthcareServices, Practitioners, PractitionerRoles and Schedules,
public like /clinics and answered by the same queries. Errors are OperationOutcomes
(infra/http/problems.py renders them for every /fhir path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from domain.errors import NotFoundError
from infra.fhir import resources
from infra.fhir.search import reference_id
from infra.http.deps import ReadPool
from infra.http.fhir import BASE, OUTCOME, FhirResponse, base_url, bundle
from infra.http.fhir_capability import OPERATIONS, READS, SEARCHES
from infra.http.fhir_search import clinic_of_location
from queries.directory import (
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

router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
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
    found = [s async for s in schedule_resources(pool, provider_id, clinic_id)
             if wanted is None or s["id"] in wanted]
    return bundle(request, found)


async def schedule_resources(pool: ReadPool, provider_id: UUID | None,
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
