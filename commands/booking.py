"""Booking use cases: book, cancel, reschedule, check in, complete, no-show.

Every change that takes or gives back provider time saves the appointment and the provider's
calendars in one atomic write (docs/decisions/0008-booking-consistency.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from commands.patients import PatientUseCases
from commands.ports import SlotInfo
from domain.appointments import Appointment
from domain.calendars import ProviderCalendar, SlotTakenError, calendar_days
from domain.consent import ConsentRequiredError, Purpose
from domain.errors import ConflictError, RuleViolationError
from domain.modality import Modality
from domain.patients import Patient

MAX_ATTEMPTS = 5


class UnverifiedPatientError(RuleViolationError):
    code = "email-not-verified"


class SlotUnavailableError(ConflictError):
    code = "slot-unavailable"


class DuplicateAppointmentError(Exception):
    """The appointment id (derived from an Idempotency-Key) exists already."""

    def __init__(self, appointment_id: UUID) -> None:
        super().__init__(str(appointment_id))
        self.appointment_id = appointment_id


class BookingUseCases(PatientUseCases):
    cancellation_cutoff: timedelta = timedelta(hours=24)

    def book(self, patient_id: UUID, slot: SlotInfo, reason: str, now: datetime,
             appointment_id: UUID | None = None) -> Appointment:
        patient = self.patient(patient_id)
        self._require_bookable(patient, slot, now)
        appointment_id = appointment_id or uuid4()
        for _attempt in range(MAX_ATTEMPTS):
            appointment = Appointment(
                patient_id=patient_id, provider_id=slot.provider_id, clinic_id=slot.clinic_id,
                service_id=slot.service_id, slot_id=slot.slot_id, start=slot.start,
                end=slot.end, modality=slot.modality, reason=reason, id=appointment_id)
            calendars = self._reserve(slot.provider_id, slot.clinic_id, appointment_id,
                                      slot.start, slot.end)
            if self._saved(appointment, *calendars):
                return appointment
            if self._exists(appointment_id):
                raise DuplicateAppointmentError(appointment_id)
        raise SlotTakenError("that time is in high demand; please try again")

    def cancel(self, appointment_id: UUID, now: datetime, note: str = "") -> Appointment:
        for _attempt in range(MAX_ATTEMPTS):
            appointment = self.appointment(appointment_id)
            appointment.cancel(now, self.cancellation_cutoff, note)
            calendars = self._release(appointment.provider_id, appointment_id,
                                      appointment.start, appointment.end)
            if self._saved(appointment, *calendars):
                return appointment
        raise ConflictError("the appointment changed meanwhile; please try again")

    def reschedule(self, appointment_id: UUID, slot: SlotInfo, now: datetime) -> Appointment:
        """The new time is secured before the old is given back, in one write, or nothing."""
        for _attempt in range(MAX_ATTEMPTS):
            appointment = self.appointment(appointment_id)
            if slot.provider_id != appointment.provider_id or \
                    slot.service_id != appointment.service_id:
                raise RuleViolationError("reschedule to a time of the same provider and service")
            if slot.book_by < now:
                raise SlotUnavailableError("that time can no longer be booked")
            old_start, old_end = appointment.start, appointment.end
            appointment.reschedule(slot.slot_id, slot.start, slot.end, now)
            touched: dict[UUID, ProviderCalendar] = {}
            for cal in self._release(appointment.provider_id, appointment_id, old_start, old_end):
                touched[cal.id] = cal
            for day in calendar_days(slot.start, slot.end):
                key = ProviderCalendar.create_id(slot.provider_id, day.isoformat())
                if key not in touched:
                    touched[key] = self._calendar(slot.provider_id, day.isoformat())
                touched[key].reserve(appointment_id, slot.start, slot.end, slot.clinic_id)
            if self._saved(appointment, *touched.values()):
                return appointment
        raise SlotTakenError("that time is in high demand; please try again")

    def check_in(self, appointment_id: UUID) -> Appointment:
        appointment = self.appointment(appointment_id)
        appointment.check_in()
        self.save(appointment)
        return appointment

    def complete(self, appointment_id: UUID) -> Appointment:
        appointment = self.appointment(appointment_id)
        appointment.complete()  # a fulfilled visit keeps its time on the calendar
        self.save(appointment)
        return appointment

    def mark_no_show(self, appointment_id: UUID, now: datetime) -> Appointment:
        appointment = self.appointment(appointment_id)
        appointment.mark_no_show(now)
        self.save(appointment)
        return appointment

    def appointment(self, appointment_id: UUID) -> Appointment:
        return self._get(Appointment, appointment_id, "appointment")

    def booked_at(self, provider_id: UUID, clinic_id: UUID, after: datetime,
                  days: int) -> list[tuple[datetime, datetime]]:
        """Live bookings of a provider at a clinic ending after `after`, from the calendars
        (the event store, not a read model: a rule change must see every booking)."""
        booked: list[tuple[datetime, datetime]] = []
        for n in range(days + 2):
            day = (after.astimezone(UTC) + timedelta(days=n)).date().isoformat()
            try:
                calendar: ProviderCalendar = self.repository.get(
                    ProviderCalendar.create_id(provider_id, day))
            except AggregateNotFoundError:
                continue
            for start, end, clinic in calendar.reservations.values():
                if clinic == clinic_id and end > after and (start, end) not in booked:
                    booked.append((start, end))
        return booked

    # -----------------------------------------------------------------------------------
    def _require_bookable(self, patient: Patient, slot: SlotInfo, now: datetime) -> None:
        if not patient.email_verified:
            raise UnverifiedPatientError("verify your email address before booking")
        needed = [Purpose.treatment]
        if slot.modality == Modality.telehealth.value:
            needed.append(Purpose.telehealth)
        for purpose in needed:
            consent = self.consent(patient.id, purpose)
            if consent is None or not consent.is_current():
                raise ConsentRequiredError(
                    f"a current {purpose.value} consent is needed to book this visit")
        if slot.book_by < now:
            raise SlotUnavailableError("that time can no longer be booked")

    def _calendar(self, provider_id: UUID, day: str) -> ProviderCalendar:
        try:
            calendar: ProviderCalendar = self.repository.get(
                ProviderCalendar.create_id(provider_id, day))
        except AggregateNotFoundError:
            calendar = ProviderCalendar(provider_id=provider_id, day=day)
        return calendar

    def _reserve(self, provider_id: UUID, clinic_id: UUID, appointment_id: UUID,
                 start: datetime,
                 end: datetime) -> list[ProviderCalendar]:
        calendars = [self._calendar(provider_id, d.isoformat()) for d in calendar_days(start, end)]
        for calendar in calendars:
            calendar.reserve(appointment_id, start, end, clinic_id)
        return calendars

    def _release(self, provider_id: UUID, appointment_id: UUID, start: datetime,
                 end: datetime) -> list[ProviderCalendar]:
        calendars = [self._calendar(provider_id, d.isoformat()) for d in calendar_days(start, end)]
        for calendar in calendars:
            calendar.release(appointment_id)
        return calendars

    def _saved(self, *aggregates: object) -> bool:
        """Save atomically; False when another writer got there first (re-read and retry)."""
        try:
            self.save(*aggregates)  # type: ignore[arg-type]
        except IntegrityError:
            return False
        return True

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True
