"""The appointments read model: one row per appointment, for patients, providers and staff.

This module decides what each appointment event changes; infra/postgres/appointments.py
writes it to PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol
from uuid import UUID

from domain.appointments import Appointment, AppointmentStatus
from domain.patients import Patient


class AppointmentsWriter(Protocol):
    def insert(self, row: dict[str, Any]) -> None: ...
    def update(self, appointment_id: UUID, changes: dict[str, Any],
               reschedules: int = 0) -> None:
        """Set columns; `reschedules` is added to the reschedule count."""

    def forget_patient(self, patient_id: UUID) -> None:
        """Drop the PHI kept for an erased patient (the visit reasons)."""


def apply_events(writer: AppointmentsWriter, events: Iterable[Any]) -> None:
    for event in events:
        _apply(writer, event)


def _apply(writer: AppointmentsWriter, event: Any) -> None:
    oid, at = event.originator_id, event.timestamp
    if isinstance(event, Patient.Erased):
        writer.forget_patient(oid)
        return
    if isinstance(event, Appointment.Booked):
        writer.insert({
            "appointment_id": oid, "patient_id": event.patient_id,
            "provider_id": event.provider_id, "clinic_id": event.clinic_id,
            "service_id": event.service_id, "slot_id": event.slot_id,
            "start_at": event.start, "end_at": event.end, "modality": event.modality,
            "status": AppointmentStatus.booked.value, "late_cancellation": False,
            "reason": event.reason, "booked_at": at, "updated_at": at,
            "version": event.originator_version,
        })
        return
    changes: dict[str, Any] | None = None
    reschedules = 0
    if isinstance(event, Appointment.Cancelled):
        changes = {"status": AppointmentStatus.cancelled.value,
                   "late_cancellation": event.late}
    elif isinstance(event, Appointment.Rescheduled):
        changes = {"slot_id": event.slot_id, "start_at": event.start, "end_at": event.end}
        reschedules = 1
    elif isinstance(event, Appointment.HandedOff):
        changes = {"provider_id": event.to_provider_id}
    elif isinstance(event, Appointment.CheckedIn):
        changes = {"status": AppointmentStatus.checked_in.value}
    elif isinstance(event, Appointment.Fulfilled):
        changes = {"status": AppointmentStatus.fulfilled.value}
    elif isinstance(event, Appointment.MarkedNoShow):
        changes = {"status": AppointmentStatus.noshow.value}
    elif isinstance(event, Appointment.ConfirmationRequested):
        changes = {"release_minutes": event.release_minutes}
    elif isinstance(event, Appointment.Confirmed):
        changes = {"confirmed": True}
    elif isinstance(event, Appointment.ConfirmationLapsed):
        changes = {}  # the cancellation that follows changes the status
    elif isinstance(event, Appointment.Discharged):
        changes = {}  # its reference is read from the event store; the version moves on
    if changes is not None:
        writer.update(oid, {**changes, "updated_at": at,
                            "version": event.originator_version}, reschedules)

