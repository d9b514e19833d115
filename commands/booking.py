"""Booking use cases: book, cancel, reschedule, check in, complete, no-show.

Every change that takes or gives back provider time saves the appointment and the provider's
calendars in one atomic write (docs/decisions/0008-booking-consistency.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from commands.patients import PatientUseCases
from commands.ports import SlotInfo
from domain.appointments import Appointment
from domain.calendars import ProviderCalendar, SlotTakenError, calendar_days
from domain.consent import Consent, ConsentRequiredError, Purpose
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
        """One read for everything the decision needs (patient, consents, calendars); after
        a lost race, one read of the calendars (and of the appointment: a retry that won)."""
        needed = {Consent.create_id(patient_id, purpose.value): purpose
                  for purpose in consents_needed(slot)}
        days = _days(slot.provider_id, slot.start, slot.end)
        loaded = self._get_many(patient_id, *needed, *days)
        patient = self._found(loaded, Patient, patient_id, "patient")
        patient.require_present()
        self._require_bookable(patient, {purpose: loaded.get(consent_id) for consent_id, purpose
                                         in needed.items()}, slot, now)
        appointment_id = appointment_id or uuid4()
        for _attempt in range(MAX_ATTEMPTS):
            appointment = Appointment(
                patient_id=patient_id, provider_id=slot.provider_id, clinic_id=slot.clinic_id,
                service_id=slot.service_id, slot_id=slot.slot_id, start=slot.start,
                end=slot.end, modality=slot.modality, reason=reason, id=appointment_id)
            calendars = self._calendars(slot.provider_id, days, loaded)
            for calendar in calendars:
                calendar.reserve(appointment_id, slot.start, slot.end, slot.clinic_id)
            if self._saved(appointment, *calendars):
                return appointment
            loaded = self._get_many(appointment_id, *days)
            if appointment_id in loaded:
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
            old_days = _days(appointment.provider_id, appointment.start, appointment.end)
            new_days = _days(slot.provider_id, slot.start, slot.end)
            appointment.reschedule(slot.slot_id, slot.start, slot.end, now)
            days = old_days | new_days
            touched = dict(zip(days, self._calendars(slot.provider_id, days), strict=True))
            for calendar_id in old_days:
                touched[calendar_id].release(appointment_id)
            for calendar_id in new_days:
                touched[calendar_id].reserve(appointment_id, slot.start, slot.end,
                                             slot.clinic_id)
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
        first = after.astimezone(UTC).date()
        calendars = self._get_many(*(
            ProviderCalendar.create_id(provider_id, (first + timedelta(days=n)).isoformat())
            for n in range(days + 2)))
        booked: list[tuple[datetime, datetime]] = []
        for calendar in calendars.values():
            for start, end, clinic in calendar.reservations.values():
                if clinic == clinic_id and end > after and (start, end) not in booked:
                    booked.append((start, end))
        return sorted(booked)

    # -----------------------------------------------------------------------------------
    def _require_bookable(self, patient: Patient, consents: dict[Purpose, Consent | None],
                          slot: SlotInfo, now: datetime) -> None:
        if not patient.email_verified:
            raise UnverifiedPatientError("verify your email address before booking")
        for purpose, consent in consents.items():
            if consent is None or not consent.is_current():
                raise ConsentRequiredError(
                    f"a current {purpose.value} consent is needed to book this visit")
        if slot.book_by < now:
            raise SlotUnavailableError("that time can no longer be booked")

    def _calendars(self, provider_id: UUID, days: dict[UUID, str],
                   loaded: dict[UUID, Any] | None = None) -> list[ProviderCalendar]:
        """The provider's calendars of these days (opened where none exists yet), from
        `loaded` or read now in one query."""
        if loaded is None:
            loaded = self._get_many(*days)
        return [calendar if (calendar := loaded.get(calendar_id)) is not None
                else ProviderCalendar(provider_id=provider_id, day=day)
                for calendar_id, day in days.items()]

    def _release(self, provider_id: UUID, appointment_id: UUID, start: datetime,
                 end: datetime) -> list[ProviderCalendar]:
        calendars = self._calendars(provider_id, _days(provider_id, start, end))
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


def consents_needed(slot: SlotInfo) -> list[Purpose]:
    """Every visit needs consent to treatment; a video visit also to telehealth."""
    needed = [Purpose.treatment]
    if slot.modality == Modality.telehealth.value:
        needed.append(Purpose.telehealth)
    return needed


def _days(provider_id: UUID, start: datetime, end: datetime) -> dict[UUID, str]:
    """The provider's calendar ids over [start, end), with their UTC days."""
    return {ProviderCalendar.create_id(provider_id, day.isoformat()): day.isoformat()
            for day in calendar_days(start, end)}
