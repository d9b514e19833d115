"""/fhir/R4 Patient and Consent: a patient's record and consent answers, as GET
/patients/{id} and its consents: the patient themself, or staff with a purpose of use; the
reads audited (docs/fhir.md). Someone else's record is absent: 404 on a read, no match in a
search."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from commands.consents import Receipt
from commands.context import Actor
from commands.patients import PatientProfile
from domain.access import Role, Scope
from domain.errors import NotFoundError
from infra.fhir import clinical
from infra.fhir.search import InvalidFhirSearchError, ids_of, reference_id
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


@router.get("/Patient")
def search_patients(request: Request, actor: PatientReader, patients: PatientsDep,
                    _id: Annotated[str | None, Query(alias="_id", max_length=1000, description=(
                        "comma-separated ids; a patient may leave it out (themself)"))] = None
                    ) -> dict[str, Any]:
    """Patients by id, each as GET /patients/{id} would show it: an id the caller may not
    read (or that does not exist) is simply not matched. No search by name, email or birth
    date: the JSON API offers no such look-up of PHI either."""
    if _id is None and actor.role is not Role.patient:
        raise InvalidFhirSearchError("search Patient by _id")
    ids = ids_of(actor.subject if _id is None else _id, "Patient")
    found: list[PatientProfile] = []
    for patient_id in ids:
        try:
            found.append(patients.profile(patient_id, actor))
        except NotFoundError:  # someone else's, erased or unknown: no match, no hint why
            continue
    if found:
        record_read(request, actor, patient_ids=[p.id for p in found])
    return bundle(request, [clinical.patient(p) for p in found])


@router.get("/Consent/{consent_id}")
def read_consent(consent_id: UUID, request: Request, actor: PatientReader,
                 consents: ConsentsDep, public_url: PublicUrl) -> dict[str, Any]:
    """One consent answer, as its patient's list shows it: to the patient themself, or staff
    with a purpose of use; another patient's is 404, as an unknown id."""
    receipt = consents.receipt(consent_id, actor)
    patient_id = UUID(str(receipt.receipt["patient_id"]))
    record_read(request, actor, patient_id=patient_id, record_id=consent_id)
    return _consent(receipt, public_url)


@router.get("/Consent")
def search_consents(request: Request, actor: PatientReader, consents: ConsentsDep,
                    public_url: PublicUrl,
                    patient: Annotated[str, Query(max_length=100)]) -> dict[str, Any]:
    """A patient's consent answers, one per purpose (as GET /patients/{id}/consents), each
    with its signed receipt attached and the policy text it was given against."""
    patient_id = reference_id("patient", patient, "Patient")
    receipts = consents.receipts(patient_id, actor)
    record_read(request, actor, patient_id=patient_id)
    return bundle(request, [_consent(r, public_url) for r in receipts])


def _consent(receipt: Receipt, public_url: str) -> dict[str, Any]:
    return clinical.consent(
        receipt, f"{public_url}/consent-policies/{receipt.receipt['policy_sha256']}")
