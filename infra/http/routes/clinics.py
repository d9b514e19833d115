"""/clinics (FHIR Location): the public directory and its administration."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response

from commands.context import Actor
from commands.models import ClinicCreate, ClinicUpdate, NoShowPolicyIn, NoShowPolicyPublic
from domain.access import Scope
from infra.http.deps import DirectoryDep, ReadPool
from infra.http.routes.tags import ADMIN, CREATED, PUBLIC
from infra.http.security import Acting
from queries import directory
from queries.models import ClinicPublic

router = APIRouter(prefix="/clinics")
Admin = Annotated[Actor, Acting(Scope.directory_write)]


@router.get("", response_model=list[ClinicPublic], tags=PUBLIC)
async def read_clinics(pool: ReadPool) -> list[ClinicPublic]:
    """All clinics (FHIR Location), by name."""
    return await directory.list_clinics(pool)


@router.get("/{clinic_id}", response_model=ClinicPublic, tags=PUBLIC)
async def read_clinic(clinic_id: UUID, pool: ReadPool) -> ClinicPublic:
    """One clinic."""
    return await directory.get_clinic(pool, clinic_id)


@router.post("", status_code=201, response_model=ClinicPublic, responses=CREATED, tags=ADMIN)
def create_clinic(body: ClinicCreate, actor: Admin, clinics: DirectoryDep,
                  response: Response) -> ClinicPublic:
    """Register a clinic with its IANA time zone and the modalities it offers."""
    clinic = clinics.register_clinic(body, actor)
    response.headers["Location"] = f"/clinics/{clinic.id}"
    return ClinicPublic(**clinic.summary())


@router.put("/{clinic_id}", response_model=ClinicPublic, tags=ADMIN)
def update_clinic(clinic_id: UUID, body: ClinicUpdate, actor: Admin,
                  clinics: DirectoryDep) -> ClinicPublic:
    """Change a clinic's name, address or modalities (its time zone is fixed)."""
    return ClinicPublic(**clinics.revise_clinic(clinic_id, body, actor).summary())


@router.get("/{clinic_id}/no-show-policy", response_model=NoShowPolicyPublic, tags=PUBLIC)
def read_no_show_policy(clinic_id: UUID, clinics: DirectoryDep) -> NoShowPolicyPublic:
    """The no-show rule the clinic's visits are booked under (docs/attendance.md): public, so
    that a patient can know it; no patient's history is in it."""
    return clinics.no_show_policy(clinic_id)


@router.put("/{clinic_id}/no-show-policy", response_model=NoShowPolicyPublic, tags=ADMIN)
def set_no_show_policy(clinic_id: UUID, body: NoShowPolicyIn, actor: Admin,
                       clinics: DirectoryDep) -> NoShowPolicyPublic:
    """The clinic's own no-show rule, for bookings from now on."""
    return clinics.set_no_show_policy(clinic_id, body, actor)


@router.delete("/{clinic_id}/no-show-policy", response_model=NoShowPolicyPublic, tags=ADMIN)
def clear_no_show_policy(clinic_id: UUID, actor: Admin,
                         clinics: DirectoryDep) -> NoShowPolicyPublic:
    """Back to the deployment's default rule."""
    return clinics.set_no_show_policy(clinic_id, None, actor)
