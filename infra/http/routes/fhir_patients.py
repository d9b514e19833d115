"""/fhir/R4 Patient and Consent: a patient's record and consent answers, as GET
/patients/{id} and its consents: the patient themself, or staff with a purpose of use; the
reads audited (docs/fhir.md)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from commands.context import Actor
from domain.access import Scope
from infra.fhir import clinical
from infra.fhir.search import reference_id
from infra.http.audit import record_read
from infra.http.deps import ConsentsDep, PatientsDep, PublicUrl
from infra.http.fhir import BASE, OUTCOME, FhirResponse, bundle
from infra.http.security import Acting

router = APIRouter(prefix=BASE, tags=["FHIR R4"], default_response_class=FhirResponse,
                   responses={400: OUTCOME, 404: OUTCOME})
PatientReader = Annotated[Actor, Acting(Scope.patients_read)]


@router.get("/Patient/{patient_id}")
def read_patient(patient_id: UUID, request: Request, actor: PatientReader,
                 patients: PatientsDep) -> dict[str, Any]:
    """As GET /patients/{id}: the patient themself, or staff with a purpose of use."""
    profile = patients.profile(patient_id, actor)
    record_read(request, actor, patient_id=patient_id, record_id=patient_id)
    return clinical.patient(profile)


@router.get("/Consent")
def search_consents(request: Request, actor: PatientReader, consents: ConsentsDep,
                    public_url: PublicUrl,
                    patient: Annotated[str, Query(max_length=100)]) -> dict[str, Any]:
    """A patient's consent answers, one per purpose (as GET /patients/{id}/consents), each
    with its signed receipt attached and the policy text it was given against."""
    patient_id = reference_id("patient", patient, "Patient")
    receipts = consents.receipts(patient_id, actor)
    record_read(request, actor, patient_id=patient_id)
    return bundle(request, [clinical.consent(
        r, f"{public_url}/consent-policies/{r.receipt['policy_sha256']}") for r in receipts])
