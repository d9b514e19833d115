"""Write routes for reference data: clinics, services, providers and their hours."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from commands.models import (
    AvailabilityIn,
    ClinicCreate,
    ClinicUpdate,
    ProviderCreate,
    ServiceCreate,
)
from domain.access import Role, Scope
from infra.auth.tokens import Principal
from infra.http.commands import acting
from infra.http.deps import ApplicationDep
from infra.http.problems import ProblemError
from infra.http.security import Authorized
from queries.models import AvailabilityPublic, ClinicPublic, ProviderPublic, ServicePublic

router = APIRouter(tags=["directory administration"])
Admin = Annotated[Principal, Authorized(Scope.directory_write)]
HoursEditor = Annotated[Principal, Authorized(Scope.availability_write)]
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created; `Location` names the new resource"}
}


@router.post("/clinics", status_code=201, response_model=ClinicPublic, responses=CREATED)
def create_clinic(body: ClinicCreate, app: ApplicationDep, principal: Admin, request: Request,
                  response: Response) -> ClinicPublic:
    """Register a clinic with its IANA time zone and the modalities it offers."""
    with acting(request, principal, "clinic registration"):
        clinic_id = app.register_clinic(body.name, body.address.to_domain(), body.time_zone,
                                        body.modalities)
    response.headers["Location"] = f"/clinics/{clinic_id}"
    return ClinicPublic(**app.clinic(clinic_id).summary())


@router.put("/clinics/{clinic_id}", response_model=ClinicPublic)
def update_clinic(clinic_id: UUID, body: ClinicUpdate, app: ApplicationDep,
                  principal: Admin, request: Request) -> ClinicPublic:
    """Change a clinic's name, address or modalities (its time zone is fixed)."""
    with acting(request, principal, "clinic change"):
        app.revise_clinic(clinic_id, body.name, body.address.to_domain(), body.modalities)
    return ClinicPublic(**app.clinic(clinic_id).summary())


@router.post("/services", status_code=201, response_model=ServicePublic, responses=CREATED)
def create_service(body: ServiceCreate, app: ApplicationDep, principal: Admin, request: Request,
                   response: Response) -> ServicePublic:
    """Register a visit type: name, duration, in person or telehealth."""
    with acting(request, principal, "service registration"):
        service_id = app.register_service(body.name, body.duration_minutes, body.modality)
    response.headers["Location"] = f"/services/{service_id}"
    return ServicePublic(**app.service(service_id).summary())


@router.put("/services/{service_id}", response_model=ServicePublic)
def update_service(service_id: UUID, body: ServiceCreate, app: ApplicationDep,
                   principal: Admin, request: Request) -> ServicePublic:
    """Change a visit type; open slots are cut anew."""
    with acting(request, principal, "service change"):
        app.revise_service(service_id, body.name, body.duration_minutes, body.modality)
    return ServicePublic(**app.service(service_id).summary())


@router.post("/providers", status_code=201, response_model=ProviderPublic, responses=CREATED)
def create_provider(body: ProviderCreate, app: ApplicationDep, principal: Admin, request: Request,
                    response: Response) -> ProviderPublic:
    """Register a provider with the clinics they work at and the services they offer."""
    with acting(request, principal, "provider registration"):
        provider_id = app.register_provider(body.display_name, body.clinic_ids, body.service_ids)
    response.headers["Location"] = f"/providers/{provider_id}"
    return ProviderPublic(**app.provider(provider_id).summary())


@router.put("/providers/{provider_id}", response_model=ProviderPublic)
def update_provider(provider_id: UUID, body: ProviderCreate, app: ApplicationDep,
                    principal: Admin, request: Request) -> ProviderPublic:
    """Change a provider's name, clinics or services."""
    with acting(request, principal, "provider change"):
        app.revise_provider(provider_id, body.display_name, body.clinic_ids, body.service_ids)
    return ProviderPublic(**app.provider(provider_id).summary())


@router.put("/providers/{provider_id}/availability/{clinic_id}",
            response_model=AvailabilityPublic,
            responses={409: {"description": "Booked visits would fall outside the new hours"}})
def publish_availability(provider_id: UUID, clinic_id: UUID, body: AvailabilityIn,
                         app: ApplicationDep, principal: HoursEditor,
                         request: Request) -> AvailabilityPublic:
    """Publish a provider's hours at a clinic (admin, or the provider themself)."""
    if principal.role is Role.provider and principal.subject != str(provider_id):
        raise ProblemError("forbidden", "Providers may change only their own hours.")
    with acting(request, principal, "availability published"):
        schedule_id = app.publish_availability(provider_id, clinic_id, body.to_domain())
    schedule = app.schedule(provider_id, clinic_id)
    return AvailabilityPublic(schedule_id=schedule_id, provider_id=provider_id,
                              clinic_id=clinic_id, rules=schedule.rules_data)
