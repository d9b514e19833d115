"""Reminders: record that a reminder fell due, once, for a visit still on."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.application import ClinicApplication
from domain.appointments import Appointment, AppointmentStatus
from domain.reminders import Reminder


class Reminders:
    def __init__(self, app: ClinicApplication) -> None:
        self.app = app

    def record_due(self, appointment_id: UUID, offset: timedelta, start: datetime) -> bool:
        """True if this call recorded the reminder. The schedule (a read model) may lag: the
        appointment itself decides, so a visit cancelled or moved since gets no reminder for
        its old time, and a reminder already recorded is not recorded again."""
        appointment = self.app.find(Appointment, appointment_id)
        if appointment is None:
            return False
        if appointment.status is not AppointmentStatus.booked or appointment.start != start:
            return False
        try:
            self.app.save(Reminder.fall_due(appointment_id, appointment.patient_id, offset,
                                            start))
        except IntegrityError:
            return False
        return True
