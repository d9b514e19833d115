"""Appointments and patients as FHIR R4 resources, and the IHE ITI Scheduling shapes of a
proposed (found), pending (held) and booked appointment, and which of them can be held
(docs/fhir.md)."""

from __future__ import annotations

import base64
import json
from typing import Any

from commands.consents import Receipt
from commands.holds import HoldPublic
from commands.patients import PatientProfile
from commands.visits import BookingPublic
from infra.fhir.resources import instant, service_type

STATUSES = {"booked": "booked", "cancelled": "cancelled", "checked_in": "checked-in",
            "fulfilled": "fulfilled", "noshow": "noshow"}
PROPOSED = "proposed-"  # a proposed appointment's id: the slot it would book
HOLD_SYSTEM = "urn:clinic:hold"  # Appointment.identifier of a held slot: the hold's id
HOLD_SECRET_SYSTEM = "urn:clinic:hold-secret"  # and its secret, for $book (the holder only)
HOLD_EXPIRES = "urn:clinic:fhir:hold-expires"  # extension: when the hold lapses
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_PURPOSE = "urn:clinic:consent-purpose"  # our purposes: treatment, telehealth, ...


def appointment(row: dict[str, Any], reason: str | None) -> dict[str, Any]:
    """A row of queries/appointments.py; `reason` only when the caller may read it (and the
    read was audited)."""
    resource: dict[str, Any] = {
        "resourceType": "Appointment", "id": str(row["id"]),
        "meta": {"versionId": str(row["version"]), "lastUpdated": instant(row["updated_at"])},
        "status": STATUSES.get(row["status"], "booked"),
        "serviceType": [service_type(row["service_id"], row["service_name"])],
        "start": instant(row["start"]), "end": instant(row["end"]),
        "minutesDuration": int((row["end"] - row["start"]).total_seconds() // 60),
        "slot": [{"reference": f"Slot/{row['slot_id']}"}],
        "created": instant(row["booked_at"]),
        "participant": _participants(row["patient_id"], row["provider_id"],
                                     row["provider_name"], row["clinic_id"]),
    }
    if reason:
        resource["reasonCode"] = [{"text": reason}]
    return resource


def appointment_of(booking: BookingPublic) -> dict[str, Any]:
    """The answer of a command ($book, a cancel, a move): the appointment as it now is."""
    return {
        "resourceType": "Appointment", "id": str(booking.id),
        "meta": {"versionId": str(booking.version)},
        "status": STATUSES.get(booking.status, "booked"),
        "serviceType": [service_type(booking.service_id)],
        "start": instant(booking.start), "end": instant(booking.end),
        "minutesDuration": int((booking.end - booking.start).total_seconds() // 60),
        "slot": [{"reference": f"Slot/{booking.slot_id}"}],
        "participant": _participants(booking.patient_id, booking.provider_id, None,
                                     booking.clinic_id),
    }


def proposed(slot: dict[str, Any]) -> dict[str, Any]:
    """What $find offers: the appointment a free slot would make."""
    return {
        "resourceType": "Appointment", "id": f"{PROPOSED}{slot['id']}", "status": "proposed",
        "serviceType": [service_type(slot["service"]["id"], slot["service"]["name"])],
        "start": instant(slot["start"]), "end": instant(slot["end"]),
        "minutesDuration": slot["duration_minutes"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "participant": [
            {"actor": {"reference": f"Practitioner/{slot['provider']['id']}",
                       "display": slot["provider"]["name"]}, "status": "needs-action"},
            {"actor": {"reference": f"Location/{slot['clinic']['id']}",
                       "display": slot["clinic"]["name"]}, "status": "needs-action"},
        ],
    }


def held(found: dict[str, Any], hold: HoldPublic) -> dict[str, Any]:
    """The proposed appointment, pending while held; its identifiers book it."""
    return {**found, "status": "pending",
            "identifier": [{"system": HOLD_SYSTEM, "value": str(hold.hold_id)},
                           {"system": HOLD_SECRET_SYSTEM, "value": hold.hold_secret}],
            "extension": [{"url": HOLD_EXPIRES, "valueInstant": instant(hold.expires_at)}]}


def patient(profile: PatientProfile) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": str(profile.id), "active": True,
        "name": [{"family": profile.family_name, "given": [profile.given_name]}],
        "birthDate": profile.birth_date.isoformat(),
        "telecom": [{"system": "email", "value": profile.email, "use": "home"}],
    }
    if profile.phone:
        resource["telecom"].append({"system": "phone", "value": profile.phone})
    return resource


def _participants(patient_id: object, provider_id: object, provider_name: str | None,
                  clinic_id: object) -> list[dict[str, Any]]:
    provider: dict[str, Any] = {"reference": f"Practitioner/{provider_id}"}
    if provider_name:
        provider["display"] = provider_name
    return [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
            {"actor": provider, "status": "accepted"},
            {"actor": {"reference": f"Location/{clinic_id}"}, "status": "accepted"}]




def consent(receipt: Receipt, policy_url: str) -> dict[str, Any]:
    """A consent answer, with its signed receipt attached: anyone can check the attachment
    offline (docs/compliance.md)."""
    given = receipt.receipt
    active = given.get("status") == "active"
    scope = "treatment" if given.get("purpose") in ("treatment", "telehealth") \
        else "patient-privacy"
    signed = json.dumps(receipt.model_dump(), sort_keys=True).encode()
    return {
        "resourceType": "Consent", "id": str(given["consent_id"]),
        "status": "active" if active else "inactive",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": scope}]},
        "category": [{"coding": [{"system": CONSENT_PURPOSE, "code": given["purpose"]}],
                      "text": str(given["purpose"])}],
        "patient": {"reference": f"Patient/{given['patient_id']}"},
        "dateTime": given["recorded_at"],
        "policy": [{"uri": policy_url}],
        "sourceAttachment": {"contentType": "application/json",
                             "data": base64.b64encode(signed).decode(),
                             "title": f"Signed consent receipt (Ed25519, key {receipt.key_id})"},
        "provision": {"type": "permit" if active else "deny"},
    }
