"""/services (FHIR HealthcareService): visit types, public, and their administration."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response

from commands.context import Actor
from commands.models import ServiceCreate
from domain.access import Scope
from infra.http.deps import DirectoryDep, ReadPool
from infra.http.routes.tags import ADMIN, CREATED, PUBLIC
from infra.http.security import Acting
from queries import directory
from queries.models import ServicePublic

router = APIRouter(prefix="/services")
Admin = Annotated[Actor, Acting(Scope.directory_write)]


@router.get("", response_model=list[ServicePublic], tags=PUBLIC)
async def read_services(pool: ReadPool) -> list[ServicePublic]:
    """All services (FHIR HealthcareService): visit types with duration and modality."""
    return await directory.list_services(pool)


@router.get("/{service_id}", response_model=ServicePublic, tags=PUBLIC)
async def read_service(service_id: UUID, pool: ReadPool) -> ServicePublic:
    """One service."""
    return await directory.get_service(pool, service_id)


@router.post("", status_code=201, response_model=ServicePublic, responses=CREATED, tags=ADMIN)
def create_service(body: ServiceCreate, actor: Admin, services: DirectoryDep,
                   response: Response) -> ServicePublic:
    """Register a visit type: name, duration, in person or telehealth."""
    service = services.register_service(body, actor)
    response.headers["Location"] = f"/services/{service.id}"
    return ServicePublic(**service.summary())


@router.put("/{service_id}", response_model=ServicePublic, tags=ADMIN)
def update_service(service_id: UUID, body: ServiceCreate, actor: Admin,
                   services: DirectoryDep) -> ServicePublic:
    """Change a visit type; open slots are cut anew."""
    return ServicePublic(**services.revise_service(service_id, body, actor).summary())
