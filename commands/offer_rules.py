"""Who may be offered a freed time, and the hold an offer places: its holder and its derived
secret (decision 0050; commands/offers.py takes the steps)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from uuid import UUID

from commands.booking_rules import require_bookable
from domain.appointments import Appointment, AppointmentStatus
from domain.consent import Consent, purposes_for_visit
from domain.errors import DomainError
from domain.patients import Patient
from domain.slots import Slot
from domain.waitlist import WaitlistEntry


def offer_hold_secret(key: bytes, offer_id: UUID) -> str:
    """The secret of an offer's hold, derived, never stored or sent: the accept use case
    derives it again to book with the hold (HMAC with a key of its own, decision 0050)."""
    return hmac.new(key, f"waitlist-offer:{offer_id}".encode(), hashlib.sha256).hexdigest()


def offer_holder(patient_id: UUID) -> str:
    return f"{offer_holder_prefix()}{patient_id}"


def offer_holder_prefix() -> str:
    return "waitlist:"


def people_to_read(entries: list[WaitlistEntry], freed: Slot) -> list[UUID]:
    """The patients, their consents for this kind of visit and the visits they would move:
    what deciding on these entries reads, in one query."""
    ids: list[UUID] = []
    for entry in entries:
        ids.append(entry.patient_id)
        ids += [Consent.create_id(entry.patient_id, purpose.value)
                for purpose in purposes_for_visit(freed.modality)]
        if entry.instead_of is not None:
            ids.append(entry.instead_of)
    return ids


def cannot_offer(entry: WaitlistEntry, people: dict[UUID, Any],
                 freed: Slot) -> str | None:
    """Why this patient may not be offered the time now (a stable cause), or None."""
    patient = people.get(entry.patient_id)
    if not isinstance(patient, Patient):
        return "patient-unknown"
    try:
        patient.require_present()
        require_bookable(patient, {
            purpose: people.get(Consent.create_id(entry.patient_id, purpose.value))
            for purpose in purposes_for_visit(freed.modality)})
    except DomainError as refusal:
        return "consent-withdrawn" if refusal.code == "consent-required" else refusal.code
    if entry.instead_of is not None:
        visit = people.get(entry.instead_of)
        if not isinstance(visit, Appointment) or \
                visit.status is not AppointmentStatus.booked or visit.start <= freed.start:
            return "visit-changed"
    return None
