"""The FHIR operations' `Parameters` bodies (`$hold`, `$book`): the parameter, reference or
Appointment resource asked for, and what the appointment names (its slot, patient, hold)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import InvalidInputError, NotFoundError
from infra.fhir import clinical
from infra.fhir.search import reference_id


class InvalidOperationError(InvalidInputError):
    code = "invalid-fhir-operation"


def parameter_of(parameters: dict[str, Any], name: str) -> dict[str, Any]:
    if parameters.get("resourceType") != "Parameters":
        raise InvalidOperationError("the body is a FHIR Parameters resource")
    for parameter in parameters.get("parameter") or []:
        if isinstance(parameter, dict) and parameter.get("name") == name:
            return parameter
    raise InvalidOperationError(f"the {name} parameter is required")


def reference_in(parameters: dict[str, Any], name: str) -> str:
    value = parameter_of(parameters, name).get("valueReference") or {}
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str):
        raise InvalidOperationError(f"{name} is a valueReference")
    return reference


def resource_in(parameters: dict[str, Any], name: str) -> dict[str, Any]:
    resource = parameter_of(parameters, name).get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
        raise InvalidOperationError(f"{name} is an Appointment resource")
    return resource


def proposed_slot(reference: str) -> UUID:
    given = reference.rsplit("/", 1)[-1]
    if not given.startswith(clinical.PROPOSED):
        raise NotFoundError(f"no proposed appointment {reference}: use one $find returned")
    return reference_id("appointment-reference", given.removeprefix(clinical.PROPOSED),
                        "Appointment")


def appointment_id_of(resource: dict[str, Any]) -> UUID:
    return reference_id("Appointment.id", str(resource.get("id")), "Appointment")


def slot_of(resource: dict[str, Any]) -> UUID:
    slots = resource.get("slot") or []
    if len(slots) != 1 or not isinstance(slots[0], dict):
        raise InvalidOperationError("the appointment names exactly one slot")
    return reference_id("Appointment.slot", str(slots[0].get("reference")), "Slot")


def patient_of(resource: dict[str, Any]) -> UUID | None:
    """The patient participant (a patient may name only themself: the use case checks)."""
    for participant in resource.get("participant") or []:
        reference = (participant.get("actor") or {}).get("reference", "") \
            if isinstance(participant, dict) else ""
        if isinstance(reference, str) and reference.startswith("Patient/"):
            return reference_id("participant", reference, "Patient")
    return None


def hold_proof(resource: dict[str, Any]) -> dict[str, Any]:
    identifiers = {i.get("system"): i.get("value") for i in resource.get("identifier") or []
                   if isinstance(i, dict)}
    hold = identifiers.get(clinical.HOLD_SYSTEM)
    return {"hold_id": reference_id("identifier", str(hold), "hold") if hold else None,
            "hold_secret": identifiers.get(clinical.HOLD_SECRET_SYSTEM)}
