"""The analytics read model: PHI-free facts per appointment and the counts analysts ask for.

This module decides what each event changes; infra/postgres/analytics.py writes it to the
`analytics` schema. Dates and hours are the clinic's wall clock (its IANA zone), so a visit
at 23:30 in Chicago counts on its own day, whatever the UTC date. A patient appears only as
a pseudonymous key, which the writer forgets when the patient is erased.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.appointments import Appointment, AppointmentStatus
from domain.clinics import Clinic
from domain.local_time import wall_time
from domain.patients import Patient
from domain.provenance import context_of
from domain.waitlist import WaitlistEntry
from projections.capacity import CapacityWriter, apply_capacity

_CHANGES = (Appointment.Rescheduled, Appointment.Cancelled, Appointment.HandedOff,
            Appointment.CheckedIn, Appointment.Fulfilled, Appointment.MarkedNoShow)
UtilizationKey = tuple[UUID, UUID, UUID, date]  # provider, clinic, service, clinic-local date


class AnalyticsWriter(CapacityWriter, Protocol):
    def clinic(self, clinic_id: UUID, time_zone: str) -> None: ...
    def patient_key(self, patient_id: UUID) -> str | None:
        """The patient's pseudonymous key (None once they were erased)."""

    def forget_patient(self, patient_id: UUID) -> None:
        """Remove the erased patient's pseudonymous key from every analytics row."""

    def fact(self, appointment_id: UUID) -> dict[str, Any] | None: ...
    def insert_fact(self, row: dict[str, Any]) -> None: ...
    def update_fact(self, appointment_id: UUID, changes: dict[str, Any]) -> None: ...
    def count_supply(self, clinic_id: UUID, day: date, hour: int, column: str) -> None:
        """Add one to `column` of the clinic's slot-supply row for that local date and hour."""

    def free(self, provider_id: UUID, start: datetime, end: datetime) -> None:
        """Remember a provider's time given back (a cancellation, a move away)."""

    def take_freed(self, provider_id: UUID, start: datetime, end: datetime) -> bool:
        """Whether booked time overlaps time given back earlier (which it then consumes)."""

    def recount(self, keys: set[UtilizationKey]) -> None:
        """Recompute the daily-utilization rows of these keys from the facts."""


def booking_channel(meta: dict[str, str]) -> str:
    """The door a booking came through, as recorded with its event (`api`, `ui`, `fhir`,
    `system`, `other`: CLI and tools), or `unrecorded` for events from before the door was
    recorded.
    A booking from an accepted waitlist offer comes through the API like any other; the
    waitlist's own event marks it (`waitlist_offer_at`, docs/decisions/0058)."""
    return meta.get("channel") or "unrecorded"


def apply_events(writer: AnalyticsWriter, events: Iterable[Any]) -> None:
    touched: set[UtilizationKey] = set()
    for event in events:
        _apply(writer, event, touched)
        apply_capacity(writer, event)
    writer.recount(touched)


def _apply(writer: AnalyticsWriter, event: Any, touched: set[UtilizationKey]) -> None:
    oid = event.originator_id
    if isinstance(event, Clinic.Registered):
        writer.clinic(oid, event.time_zone)
    elif isinstance(event, Patient.Erased):
        writer.forget_patient(oid)
    elif isinstance(event, Appointment.Booked):
        _booked(writer, event, touched)
    elif isinstance(event, WaitlistEntry.Booked):
        _from_waitlist(writer, event)
    elif isinstance(event, _CHANGES):
        fact = writer.fact(oid)
        if fact is not None:  # None: booked before its clinic was known (never, in one log)
            touched.add(_key(fact))
            changes = _changes(writer, event, fact)
            if changes:
                writer.update_fact(oid, {**changes, "updated_at": event.timestamp})
                touched.add(_key({**fact, **changes}))


def _booked(writer: AnalyticsWriter, event: Appointment.Booked,
            touched: set[UtilizationKey]) -> None:
    zone = writer.time_zone(event.clinic_id)
    if zone is None:
        return
    meta, at = context_of(event), event.timestamp
    row = {
        "appointment_id": event.originator_id, "patient_key": writer.patient_key(event.patient_id),
        "clinic_id": event.clinic_id, "provider_id": event.provider_id,
        "service_id": event.service_id, "modality": event.modality, "time_zone": zone,
        **_timing(zone, event.start, event.end, at), "booked_at": at,
        "status": AppointmentStatus.booked.value, "booking_channel": booking_channel(meta),
        "booked_by_role": meta.get("role", "unrecorded"), "updated_at": at,
    }
    writer.insert_fact(row)
    _taken(writer, row, event.provider_id)
    touched.add(_key(row))


def _from_waitlist(writer: AnalyticsWriter, event: WaitlistEntry.Booked) -> None:
    """An accepted offer booked the visit, or moved it to its current time: the booking or
    the move was recorded just before, through the booking use case (decision 0050)."""
    fact = writer.fact(event.appointment_id)
    if fact is not None:
        writer.update_fact(event.appointment_id, {"waitlist_offer_at": event.timestamp,
                                                  "updated_at": event.timestamp})
        writer.count_supply(fact["clinic_id"], fact["local_date"], fact["local_start"].hour,
                            "waitlist_booked")


def _changes(writer: AnalyticsWriter, event: Any, fact: dict[str, Any]) -> dict[str, Any]:
    at = event.timestamp
    if isinstance(event, Appointment.Rescheduled):
        _given_back(writer, fact, "freed_by_reschedule")
        moved = _timing(fact["time_zone"], event.start, event.end, fact["booked_at"])
        _taken(writer, {**fact, **moved}, fact["provider_id"])
        return {**moved, "rescheduled_at": at, "reschedule_count": fact["reschedule_count"] + 1}
    if isinstance(event, Appointment.Cancelled):
        _given_back(writer, fact, "freed_by_cancellation")
        return {"status": AppointmentStatus.cancelled.value, "cancelled_at": at,
                "late_cancellation": event.late,
                "cancelled_by_role": context_of(event).get("role", "unrecorded")}
    if isinstance(event, Appointment.HandedOff):
        return {"provider_id": event.to_provider_id, "handed_off_at": at}
    if isinstance(event, Appointment.CheckedIn):
        return {"status": AppointmentStatus.checked_in.value, "checked_in_at": at}
    if isinstance(event, Appointment.Fulfilled):
        return {"status": AppointmentStatus.fulfilled.value, "completed_at": at}
    if isinstance(event, Appointment.MarkedNoShow):
        return {"status": AppointmentStatus.noshow.value, "no_show_at": at}
    return {}


def _timing(zone: str, start: datetime, end: datetime, booked_at: datetime) -> dict[str, Any]:
    local_start = wall_time(start, ZoneInfo(zone))
    return {"start_at": start, "end_at": end, "local_start": local_start,
            "local_date": local_start.date(),
            "duration_minutes": int((end - start).total_seconds() // 60),
            "lead_time_minutes": int((start - booked_at).total_seconds() // 60)}


def _taken(writer: AnalyticsWriter, row: dict[str, Any], provider_id: UUID) -> None:
    clinic, day, hour = row["clinic_id"], row["local_date"], row["local_start"].hour
    writer.count_supply(clinic, day, hour, "booked")
    if writer.take_freed(provider_id, row["start_at"], row["end_at"]):
        writer.count_supply(clinic, day, hour, "rebooked")


def _given_back(writer: AnalyticsWriter, fact: dict[str, Any], column: str) -> None:
    writer.count_supply(fact["clinic_id"], fact["local_date"], fact["local_start"].hour, column)
    writer.free(fact["provider_id"], fact["start_at"], fact["end_at"])


def _key(row: dict[str, Any]) -> UtilizationKey:
    return (row["provider_id"], row["clinic_id"], row["service_id"], row["local_date"])
