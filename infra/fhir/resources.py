"""Our directory and slots as FHIR R4 resources (docs/fhir.md has the mapping table).

Pure renderings of what the read side already answers (queries/directory.py,
queries/slots.py): the FHIR face is a second door into the same house.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from queries.models import AvailabilityPublic, ClinicPublic, ProviderPublic, ServicePublic

SERVICE_SYSTEM = "urn:clinic:service"  # Slot.serviceType / Schedule.serviceType codes
TIME_ZONE = "urn:clinic:fhir:time-zone"  # the IANA zone: R4 has no extension for a Location's
# (R5's tz-code is only allowed on dates in R4, and R4 cannot validate IANA codes offline)
VISIT_MINUTES = "urn:clinic:fhir:visit-duration"  # HealthcareService has no duration element
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
MODES = {"in_person": ("FACE", "face-to-face"), "telehealth": ("VIDEOCONF", "videoconferencing")}
VIRTUAL = "virtual-"  # the id prefix of a clinic's virtual Location (its telehealth visits)
ROLES = uuid5(NAMESPACE_URL, "urn:clinic:fhir:practitioner-role")
BOOKING_DEEP_LINK = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"


def location(clinic: ClinicPublic) -> dict[str, Any]:
    address = clinic.address
    return {
        "resourceType": "Location", "id": str(clinic.id), "status": "active",
        "name": clinic.name, "mode": "instance",
        "extension": [{"url": TIME_ZONE, "valueCode": clinic.time_zone}],
        "address": {"use": "work", "line": [address.get("line", "")],
                    "city": address.get("city"), "state": address.get("state"),
                    "postalCode": address.get("postal_code"),
                    "country": address.get("country")},
        "physicalType": _concept(PHYSICAL_TYPE, "si", "Site"),
    }


def virtual_location(clinic: ClinicPublic) -> dict[str, Any]:
    """Where a clinic's video visits happen: part of the clinic, no address."""
    return {
        "resourceType": "Location", "id": f"{VIRTUAL}{clinic.id}", "status": "active",
        "name": f"{clinic.name} (video visits)", "mode": "instance",
        "extension": [{"url": TIME_ZONE, "valueCode": clinic.time_zone}],
        "type": [{"text": "virtual: video visits"}],  # R4's physical types have no virtual
        "partOf": {"reference": f"Location/{clinic.id}"},
    }


def clinic_locations(clinic: ClinicPublic) -> list[dict[str, Any]]:
    offered = [location(clinic)]
    if "telehealth" in clinic.modalities:
        offered.append(virtual_location(clinic))
    return offered


def healthcare_service(service: ServicePublic) -> dict[str, Any]:
    code, display = MODES.get(service.modality, MODES["in_person"])
    return {
        "resourceType": "HealthcareService", "id": str(service.id), "active": True,
        "name": service.name,
        "type": [{"coding": [{"system": SERVICE_SYSTEM, "code": str(service.id),
                              "display": service.name}]}],
        "characteristic": [_concept(PARTICIPATION_MODE, code, display)],
        "appointmentRequired": True,
        "extension": [{"url": VISIT_MINUTES, "valueDuration": {
            "value": service.duration_minutes, "unit": "min",
            "system": "http://unitsofmeasure.org", "code": "min"}}],
    }


def practitioner(provider: ProviderPublic) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": str(provider.id), "active": True,
            "name": [{"text": provider.display_name}]}


def role_id(provider_id: UUID, clinic_id: UUID) -> UUID:
    """A provider at one clinic: a stable id of the pair."""
    return uuid5(ROLES, f"{provider_id}/{clinic_id}")


def practitioner_role(provider: ProviderPublic, clinic: ClinicPublic) -> dict[str, Any]:
    places = [{"reference": f"Location/{clinic.id}"}]
    if "telehealth" in clinic.modalities:
        places.append({"reference": f"Location/{VIRTUAL}{clinic.id}"})
    return {
        "resourceType": "PractitionerRole", "id": str(role_id(provider.id, clinic.id)),
        "active": True, "practitioner": {"reference": f"Practitioner/{provider.id}",
                                         "display": provider.display_name},
        "location": places,
        "healthcareService": [{"reference": f"HealthcareService/{s}"}
                              for s in provider.service_ids],
    }


def schedule(availability: AvailabilityPublic, provider: ProviderPublic,
             services: dict[UUID, ServicePublic]) -> dict[str, Any]:
    offered = [services[s] for s in provider.service_ids if s in services]
    return {
        "resourceType": "Schedule", "id": str(availability.schedule_id), "active": True,
        "serviceType": [service_type(s.id, s.name) for s in offered],
        "actor": [{"reference": f"Practitioner/{provider.id}",
                   "display": provider.display_name},
                  {"reference": f"Location/{availability.clinic_id}"}],
    }


def slot(row: dict[str, Any], status: str) -> dict[str, Any]:
    """A row of slot search (queries/slots.py), free or busy."""
    return {
        "resourceType": "Slot", "id": str(row["id"]),
        "schedule": {"reference": f"Schedule/{row['schedule_id']}"},
        "status": status,
        "start": instant(row["start"]), "end": instant(row["end"]),
        "serviceType": [service_type(row["service"]["id"], row["service"]["name"])],
    }


def bookable(resource: dict[str, Any], public_url: str) -> dict[str, Any]:
    """A free Slot as SMART Scheduling Links publishes it: with a deep link to book it."""
    return {**resource, "extension": [{"url": BOOKING_DEEP_LINK,
                                       "valueUrl": f"{public_url}/book?slot={resource['id']}"}]}


def service_type(service_id: object, name: str | None = None) -> dict[str, Any]:
    coding = {"system": SERVICE_SYSTEM, "code": str(service_id)}
    return {"coding": [coding | {"display": name} if name else coding]}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def capability_statement(base: str, searches: dict[str, list[tuple[str, str, str]]],
                         reads: frozenset[str], operations: dict[str, str]
                         ) -> dict[str, Any]:
    """Exactly what is implemented: these resources read and searched with these parameters,
    and these operations (name -> its definition's canonical URL)."""
    return {
        "resourceType": "CapabilityStatement", "status": "active",
        "date": "2026-12-07", "kind": "instance", "fhirVersion": "4.0.1",
        "format": ["json"], "publisher": "clinic-booking",
        "software": {"name": "clinic-booking"},
        "implementation": {"description": "Virtual clinic booking engine", "url": base},
        "rest": [{
            "mode": "server",
            "resource": [_capabilities(kind, kind in reads, parameters)
                         for kind, parameters in searches.items()],
            "operation": [{"name": name, "definition": definition}
                          for name, definition in operations.items()],
        }],
    }


def _capabilities(kind: str, read: bool, parameters: list[tuple[str, str, str]]
                  ) -> dict[str, Any]:
    offered: dict[str, Any] = {"type": kind, "interaction": [{"code": code} for code, on in (
        ("read", read), ("search-type", bool(parameters))) if on]}
    if parameters:
        offered["searchParam"] = [{"name": name, "type": kind_of, "documentation": what}
                                  for name, kind_of, what in parameters]
    return offered
