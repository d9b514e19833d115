"""Which domain events leave the system, as which message, on which topic, under which key.

Ids and times only: the PHI fields of an event (visit reason, notes, names, contact details)
have no place in any message (avro/*.avsc; docs/messaging.md). The key is the appointment for
appointment and reminder messages, the patient for patient and consent messages, and the
waitlist entry for offers, so one appointment's (or patient's, or entry's) messages stay in
order on one partition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from domain.appointments import Appointment
from domain.consent import Consent
from domain.openings import Opening
from domain.patients import Patient
from domain.reminders import Reminder

APPOINTMENTS_TOPIC = "clinic.appointments.v1"
REMINDERS_TOPIC = "clinic.reminders.v1"
PATIENTS_TOPIC = "clinic.patients.v1"
WAITLIST_TOPIC = "clinic.waitlist.v1"
DEAD_LETTER_TOPIC = "clinic.notify.dlq.v1"
TOPICS = (APPOINTMENTS_TOPIC, REMINDERS_TOPIC, PATIENTS_TOPIC, WAITLIST_TOPIC)

EVENT_NAMESPACE = UUID("0b8c3a57-6d38-4f0e-8f3e-7a1d2c9e4b60")


def event_id(originator_id: UUID, originator_version: int) -> UUID:
    """Stable for one event, so a message published twice carries the same id twice."""
    return uuid5(EVENT_NAMESPACE, f"{originator_id}/{originator_version}")


@dataclass(frozen=True)
class Message:
    """One message, before encoding: `name` is its Avro record name (avro/<name>.avsc)."""

    name: str
    topic: str
    key: UUID
    record: dict[str, Any]
    event_id: UUID
    occurred_at: datetime
    meta: dict[str, str]  # who and why (the command's context): request id, trace context


# Loads an aggregate's current state: events that lack an id the message needs (a consent
# regranted or revoked names neither patient nor purpose) take it from there.
Loader = Callable[[UUID], Any]


def message_for(event: Any, load: Loader) -> Message | None:
    """The message an event publishes, or None for internal events (calendars, claims...)."""
    mapped = _map(event, load)
    if mapped is None:
        return None
    name, topic, key, record = mapped
    occurred_at: datetime = event.timestamp
    record["occurred_at"] = occurred_at
    return Message(name=name, topic=topic, key=key, record=record,
                   event_id=event_id(event.originator_id, event.originator_version),
                   occurred_at=occurred_at, meta=dict(getattr(event, "__meta__", None) or {}))


def _map(e: Any, load: Loader) -> tuple[str, str, UUID, dict[str, Any]] | None:
    aid = e.originator_id
    if isinstance(e, Appointment.Booked):
        return "AppointmentBooked", APPOINTMENTS_TOPIC, aid, {
            "appointment_id": aid, "patient_id": e.patient_id, "provider_id": e.provider_id,
            "clinic_id": e.clinic_id, "service_id": e.service_id, "slot_id": e.slot_id,
            "start": e.start, "end": e.end, "modality": e.modality}
    if isinstance(e, Appointment.Cancelled):
        return "AppointmentCancelled", APPOINTMENTS_TOPIC, aid, {
            "appointment_id": aid, "late": e.late,
            "patient_id": e.patient_id or load(aid).patient_id}
    if isinstance(e, Appointment.Rescheduled):
        return "AppointmentRescheduled", APPOINTMENTS_TOPIC, aid, {
            "appointment_id": aid, "slot_id": e.slot_id, "start": e.start, "end": e.end,
            "previous_slot_id": e.previous_slot_id, "previous_start": e.previous_start,
            "previous_end": e.previous_end}
    if isinstance(e, Appointment.HandedOff):
        return "AppointmentHandedOff", APPOINTMENTS_TOPIC, aid, {
            "appointment_id": aid, "from_provider_id": e.from_provider_id,
            "to_provider_id": e.to_provider_id, "reason": e.cause}
    if isinstance(e, Appointment.Discharged):
        visit = load(aid)
        return "VisitDischarged", APPOINTMENTS_TOPIC, aid, {
            "appointment_id": aid, "patient_id": e.patient_id, "provider_id": visit.provider_id,
            "clinic_id": visit.clinic_id, "service_id": visit.service_id}
    for kind, name in ((Appointment.CheckedIn, "AppointmentCheckedIn"),
                       (Appointment.Fulfilled, "AppointmentCompleted"),
                       (Appointment.MarkedNoShow, "AppointmentNoShow")):
        if isinstance(e, kind):
            return name, APPOINTMENTS_TOPIC, aid, {"appointment_id": aid}
    if isinstance(e, Reminder.Due):
        return "ReminderDue", REMINDERS_TOPIC, e.appointment_id, {
            "reminder_id": e.originator_id, "appointment_id": e.appointment_id,
            "patient_id": e.patient_id, "offset_minutes": e.offset_minutes,
            "appointment_start": e.appointment_start, "due_at": e.due_at}
    if isinstance(e, Opening.Offered):
        return "WaitlistOffered", WAITLIST_TOPIC, e.entry_id, {
            "offer_id": e.offer_id, "entry_id": e.entry_id, "opening_id": e.originator_id,
            "patient_id": e.patient_id, "slot_id": load(e.originator_id).freed.slot_id,
            "expires_at": e.expires_at}
    return _map_patient(e, load)


def _map_patient(e: Any, load: Loader) -> tuple[str, str, UUID, dict[str, Any]] | None:
    pid = e.originator_id
    if isinstance(e, Patient.EmailVerified):
        return "PatientVerified", PATIENTS_TOPIC, pid, {"patient_id": pid}
    if isinstance(e, Patient.SignInCodeRequested):
        return "SignInCodeRequested", PATIENTS_TOPIC, pid, {"patient_id": pid}
    if isinstance(e, Patient.Erased):
        return "PatientErased", PATIENTS_TOPIC, pid, {"patient_id": pid, "basis": e.basis}
    if isinstance(e, Consent.Granted):
        return "ConsentGranted", PATIENTS_TOPIC, e.patient_id, {
            "consent_id": e.originator_id, "patient_id": e.patient_id, "purpose": e.purpose,
            "policy_version": e.policy_version}
    if isinstance(e, Consent.Regranted | Consent.Revoked):
        consent = load(e.originator_id)
        record: dict[str, Any] = {"consent_id": e.originator_id,
                                  "patient_id": consent.patient_id, "purpose": consent.purpose}
        if isinstance(e, Consent.Regranted):
            record["policy_version"] = e.policy_version
            return "ConsentGranted", PATIENTS_TOPIC, consent.patient_id, record
        return "ConsentRevoked", PATIENTS_TOPIC, consent.patient_id, record
    return None
