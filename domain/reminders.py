"""Reminder: one appointment reminder that fell due, recorded once.

The id is derived from the appointment, the offset and the start time the reminder was for,
so the event store's uniqueness makes it exactly-once per appointment and offset (across
restarts and racing schedulers), and a rescheduled visit gets reminders of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

REMINDER_NAMESPACE = UUID("5b0f4d8e-2f7c-4b7e-9a55-0c6f1f3f8a21")
DEFAULT_OFFSETS = (timedelta(hours=24), timedelta(hours=2))


def reminder_id(appointment_id: UUID, offset: timedelta, start: datetime) -> UUID:
    minutes = int(offset.total_seconds() // 60)
    return uuid5(REMINDER_NAMESPACE, f"{appointment_id}/{minutes}/{start.isoformat()}")


class Reminder(Aggregate):
    class Due(Aggregate.Created):
        appointment_id: UUID
        patient_id: UUID
        offset_minutes: int
        appointment_start: datetime
        due_at: datetime

    @classmethod
    def fall_due(cls, appointment_id: UUID, patient_id: UUID, offset: timedelta,
                 appointment_start: datetime) -> Reminder:
        return cls(appointment_id=appointment_id, patient_id=patient_id,
                   offset_minutes=int(offset.total_seconds() // 60),
                   appointment_start=appointment_start, due_at=appointment_start - offset,
                   id=reminder_id(appointment_id, offset, appointment_start))

    @event(Due)
    def __init__(self, appointment_id: UUID, patient_id: UUID, offset_minutes: int,
                 appointment_start: datetime, due_at: datetime, id: UUID | None = None) -> None:
        self.appointment_id, self.patient_id = appointment_id, patient_id
        self.offset_minutes, self.appointment_start, self.due_at = (offset_minutes,
                                                                    appointment_start, due_at)
