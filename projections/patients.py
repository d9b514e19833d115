"""The `patients` table of the appointments read model: a PHI-free registry of who is on
record and when they were last active, for retention (infra/erasure.py) and analysts. No
names, no contact details."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.appointments import Appointment
from domain.consent import Consent
from domain.patients import Patient


class PatientsWriter(Protocol):
    def registered(self, patient_id: UUID, at: datetime) -> None: ...
    def active(self, patient_id: UUID, at: datetime, verified: bool | None = None) -> None:
        """Move last activity forward to `at` (never back); set email_verified if given."""
    def erased(self, patient_id: UUID, at: datetime, basis: str) -> None: ...


def apply_events(writer: PatientsWriter, events: Iterable[Any]) -> None:
    for event in events:
        at = event.timestamp
        if isinstance(event, Patient.Registered):
            writer.registered(event.originator_id, at)
        elif isinstance(event, Patient.EmailVerified):
            writer.active(event.originator_id, at, verified=True)
        elif isinstance(event, Patient.ContactDetailsChanged):
            writer.active(event.originator_id, at)
        elif isinstance(event, Patient.Erased):
            writer.erased(event.originator_id, at, event.basis)
        elif isinstance(event, Appointment.Booked):
            writer.active(event.patient_id, max(at, event.end))
        elif isinstance(event, Appointment.Cancelled | Consent.Granted) and event.patient_id:
            writer.active(event.patient_id, at)
