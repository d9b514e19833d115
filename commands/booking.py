"""Booking: book a slot, reschedule, cancel (FHIR Appointment).

Every change that takes or gives back provider time saves the appointment and the provider's
calendars in one atomic write (docs/decisions/0008-booking-consistency.md). A use case owns
all of it: whose booking, the slot and its hold, the Idempotency-Key, the retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import Field

from commands.application import ClinicApplication, found
from commands.booking_rules import covering, offering, require_bookable, still_offered
from commands.calendars import around, calendars, days_of, moved
from commands.context import Actor, acting_as
from commands.holds import Holding, HoldProof
from commands.idempotency import (
    IdempotencyKey,
    IdempotencyKeyReusedError,
    Outcome,
    run_once,
)
from commands.inputs import MultilineText
from commands.models import Strict
from commands.ports import CommandMetrics, IdempotencyRecords, SlotInfo
from commands.visits import BookingPublic, Visits
from domain.agendas import NoShowRule, PatientAgenda
from domain.appointments import Appointment, HandOffCause
from domain.calendars import SlotTakenError
from domain.consent import Consent, purposes_for_visit
from domain.errors import ConflictError, DomainError, RuleViolationError
from domain.patients import Patient
from domain.record_access import (
    patient_to_book_for,
    require_clinic,
    require_may_exceed_visit_limit,
)
from domain.schedules import Schedule

MAX_ATTEMPTS = 5
BOOK = "POST /bookings"  # what Idempotency-Keys of bookings are scoped by (run_once)


class DuplicateAppointmentError(Exception):
    """The appointment id (derived from an Idempotency-Key) exists already."""

    def __init__(self, appointment_id: UUID) -> None:
        super().__init__(str(appointment_id))
        self.appointment_id = appointment_id


class BookingCreate(HoldProof):
    slot_id: UUID
    reason: Annotated[MultilineText, Field(max_length=500, description="Visit reason (PHI)")] = ""
    patient_id: Annotated[UUID | None, Field(description="Staff only: whom to book for")] = None
    exceed_visit_limit: Annotated[bool, Field(
        description="Front desk only: book although the patient already has as many upcoming "
                    "visits as the clinic allows (recorded with who did it)")] = False


class Reschedule(HoldProof):
    slot_id: UUID


class HandOff(Strict):
    provider_id: Annotated[UUID, Field(description="The provider who takes the visit")]
    reason: Annotated[HandOffCause, Field(description="Why (a code, never free text)")] = \
        HandOffCause.other


class Bookings:
    def __init__(self, app: ClinicApplication, visits: Visits, holding: Holding,
                 idempotency: IdempotencyRecords, metrics: CommandMetrics,
                 max_upcoming_visits: int = 8, no_show_rule: NoShowRule | None = None) -> None:
        self.app, self.visits, self.holding = app, visits, holding
        self.idempotency, self.metrics = idempotency, metrics
        self.max_upcoming_visits, self.no_show_rule = max_upcoming_visits, no_show_rule

    def book(self, command: BookingCreate, actor: Actor,
             key: IdempotencyKey | None = None) -> Outcome[BookingPublic]:
        """Book a slot, with or without a hold; a retry with the same key answers again."""
        with self._counted("book"):

            def create(derived_id: UUID | None) -> BookingPublic:
                # After the key: a retry of a booking made with a hold (released since) is
                # answered again, not refused for the hold.
                patient_id = patient_to_book_for(actor, command.patient_id)
                if command.exceed_visit_limit:
                    require_may_exceed_visit_limit(actor)
                slot = self.holding.bookable(command.slot_id, command)
                require_clinic(actor, slot.clinic_id)
                try:
                    with acting_as(actor.doing("booking")):
                        appointment = self.book_slot(
                            patient_id, slot, command.reason, datetime.now(UTC), derived_id,
                            exceed_visit_limit=command.exceed_visit_limit)
                except DuplicateAppointmentError as dup:  # a retry whose answer was lost
                    appointment = self.visits.appointment(dup.appointment_id)
                else:
                    self.metrics.booking("booked")  # a replayed answer was counted before
                self.holding.used(slot.slot_id, command)
                if appointment.patient_id != patient_id:
                    raise IdempotencyKeyReusedError(
                        "This Idempotency-Key was used for another booking.")
                return BookingPublic.of(appointment)

            return run_once(self.idempotency, key, BOOK, command, BookingPublic, create)

    def reschedule(self, appointment_id: UUID, command: Reschedule, actor: Actor,
                   version: int | None = None) -> BookingPublic:
        """Move to another slot of the same provider and service: the new time is secured
        before the old is given back, in one write, or nothing changes. With `version`
        (If-Match), only if the appointment is still at that version."""
        self.visits.reachable(appointment_id, actor)
        slot = self.holding.bookable(command.slot_id, command)
        require_clinic(actor, slot.clinic_id)
        with acting_as(actor.doing("reschedule")), self._counted("reschedule"):
            appointment = self.reschedule_to(appointment_id, slot, datetime.now(UTC), version)
        self.holding.used(slot.slot_id, command)
        return BookingPublic.of(appointment)

    def cancel(self, appointment_id: UUID, note: str, actor: Actor,
               version: int | None = None) -> BookingPublic:
        """Within the cut-off before the start it is recorded as a late cancellation. With
        `version` (If-Match), only if the appointment is still at that version."""
        self.visits.reachable(appointment_id, actor)
        with acting_as(actor.doing("cancellation")):
            return BookingPublic.of(self.visits.cancel(appointment_id, datetime.now(UTC),
                                                       note, version))

    def hand_off(self, appointment_id: UUID, command: HandOff, actor: Actor) -> BookingPublic:
        """Another provider of the same clinic and service takes the visit at its time, if
        their hours cover it and they are free (buffers included); the patient's time and
        agenda stay as they are. One atomic write, or nothing changes."""
        self.visits.reachable(appointment_id, actor)
        with acting_as(actor.doing("hand-off")):
            return BookingPublic.of(self.hand_off_to(appointment_id, command.provider_id,
                                                     datetime.now(UTC), command.reason))

    # The decisions, once the door's concerns are settled (whose booking, which slot) -------
    def book_slot(self, patient_id: UUID, slot: SlotInfo, reason: str, now: datetime,
                  appointment_id: UUID | None = None, *,
                  exceed_visit_limit: bool = False) -> Appointment:
        """One read for everything the decision needs (patient, consents and agenda, the
        provider's rules and calendars); after a lost race, one read of the rules, agenda and
        calendars again (and of the appointment: a retry that won)."""
        needed = {Consent.create_id(patient_id, purpose.value): purpose
                  for purpose in purposes_for_visit(slot.modality)}
        nearby = around(slot.provider_id, slot.start, slot.end)
        agenda_id = PatientAgenda.create_id(patient_id)
        loaded = self.app.get_many(patient_id, *needed, agenda_id, *offering(slot), *nearby)
        patient = found(loaded, Patient, patient_id, "patient")
        patient.require_present()
        require_bookable(patient, {purpose: loaded.get(consent_id) for consent_id, purpose
                                    in needed.items()})
        appointment_id = appointment_id or uuid4()
        for _attempt in range(MAX_ATTEMPTS):
            before, after = still_offered(loaded, slot, now)
            appointment = Appointment.book(
                patient_id=patient_id, provider_id=slot.provider_id, clinic_id=slot.clinic_id,
                service_id=slot.service_id, slot_id=slot.slot_id, start=slot.start,
                end=slot.end, modality=slot.modality, reason=reason, id=appointment_id)
            taken = calendars(self.app, slot.provider_id,
                              days_of(slot.provider_id, slot.start - before, slot.end + after),
                              loaded)
            for calendar in taken:
                calendar.reserve(appointment_id, slot.start, slot.end, slot.clinic_id,
                                 before, after)
            agenda = loaded.get(agenda_id) or PatientAgenda(patient_id=patient_id)
            rule = loaded[slot.clinic_id].no_show_rule or self.no_show_rule
            agenda.reserve(appointment_id, slot.start, slot.end, now,
                           self.max_upcoming_visits, exceed_limit=exceed_visit_limit,
                           no_show_rule=rule)
            if rule is not None and rule.asks_confirmation(
                    agenda.recent_no_shows(now, rule.within), slot.start, now):
                appointment.require_confirmation(rule.release_before)
            if self.app.saved(appointment, *taken, agenda):
                return appointment
            loaded |= self.app.get_many(appointment_id, agenda_id, offering(slot)[-1],
                                        *nearby)
            if appointment_id in loaded:
                raise DuplicateAppointmentError(appointment_id)
        raise SlotTakenError("that time is in high demand; please try again")

    def reschedule_to(self, appointment_id: UUID, slot: SlotInfo, now: datetime,
                      version: int | None = None) -> Appointment:
        nearby = around(slot.provider_id, slot.start, slot.end)
        for _attempt in range(MAX_ATTEMPTS):
            appointment = self.visits.appointment(appointment_id, version)
            if slot.provider_id != appointment.provider_id or \
                    slot.service_id != appointment.service_id or \
                    slot.clinic_id != appointment.clinic_id:
                raise RuleViolationError(
                    "reschedule to a time of the same provider and service at the same clinic")
            old = around(appointment.provider_id, appointment.start, appointment.end)
            patient_id = appointment.patient_id
            agenda_id = PatientAgenda.create_id(patient_id)
            needed = {Consent.create_id(patient_id, purpose.value): purpose
                      for purpose in purposes_for_visit(slot.modality)}
            loaded = self.app.get_many(patient_id, *needed, agenda_id, *offering(slot),
                                       *nearby, *old)
            # A move is a booking of another time: the same patient rules (consent withdrawn
            # meanwhile, an erased patient) as the first booking.
            patient = found(loaded, Patient, patient_id, "patient")
            patient.require_present()
            require_bookable(patient, {purpose: loaded.get(consent_id)
                                       for consent_id, purpose in needed.items()})
            before, after = still_offered(loaded, slot, now)
            appointment.reschedule(slot.slot_id, slot.start, slot.end, now)
            agenda = loaded.get(agenda_id) or PatientAgenda(patient_id=appointment.patient_id)
            agenda.reserve(appointment_id, slot.start, slot.end, now, self.max_upcoming_visits,
                           exceed_limit=True)  # a move never adds a visit
            touched = moved(self.app, loaded, appointment_id, slot.provider_id, slot.start,
                            slot.end, slot.clinic_id, before, after)
            if self.app.saved(appointment, *touched, agenda):
                return appointment
        raise SlotTakenError("that time is in high demand; please try again")

    def hand_off_to(self, appointment_id: UUID, to_provider_id: UUID, now: datetime,
                    cause: HandOffCause = HandOffCause.other) -> Appointment:
        for _attempt in range(MAX_ATTEMPTS):
            appointment = self.visits.appointment(appointment_id)
            start, end = appointment.start, appointment.end
            schedule_id = Schedule.create_id(to_provider_id, appointment.clinic_id)
            old = around(appointment.provider_id, start, end)
            new = around(to_provider_id, start, end)
            loaded = self.app.get_many(to_provider_id, appointment.clinic_id, schedule_id,
                                       *old, *new)
            before, after = covering(loaded, appointment, to_provider_id)
            appointment.hand_off(to_provider_id, now, cause)
            touched = moved(self.app, loaded, appointment_id, to_provider_id, start, end,
                            appointment.clinic_id, before, after)
            if self.app.saved(appointment, *touched):
                return appointment
        raise SlotTakenError("the other provider's calendar is busy; please try again")

    @contextmanager
    def _counted(self, command: str) -> Iterator[None]:
        """Count why a booking did not happen: a 409 is a conflict (slot-taken: the event
        store found the time gone), any other refusal is rejected. Crashes are not
        outcomes: they are 5xx in the request metrics."""
        try:
            yield
        except DomainError as exc:
            if isinstance(exc, SlotTakenError):
                self.metrics.booking_conflict(command)
            if command == "book":
                self.metrics.booking("conflict" if isinstance(exc, ConflictError)
                                     else "rejected")
            raise
