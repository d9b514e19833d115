"""The waitlist, as patients and staff use it: join, leave, set an entry's urgency, and accept
an offer of freed time (which books it, or moves the patient's later visit to it).

Accepting goes through the booking use cases themselves, with the hold the offer placed:
the same idempotency, consent, limit and no-double-booking rules as any booking
(docs/waitlist.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from commands.application import ClinicApplication, found
from commands.booking import BookingCreate, Bookings, Reschedule
from commands.booking_rules import require_bookable
from commands.context import Actor, acting_as
from commands.holds import Holding
from commands.idempotency import IdempotencyKey, IdempotencyKeyReusedError, Outcome, run_once
from commands.offer_rules import offer_hold_secret
from commands.visits import BookingPublic, Visits
from commands.waitlist_models import (
    OfferAcceptance,
    PriorityChange,
    WaitlistEntryPublic,
    WaitlistJoin,
)
from domain.access import Role
from domain.appointments import Appointment, AppointmentStatus
from domain.clinics import Clinic
from domain.consent import Consent, purposes_for_visit
from domain.errors import ConflictError, ForbiddenError
from domain.openings import Opening
from domain.patients import Patient
from domain.providers import Provider
from domain.record_access import (
    patient_to_book_for,
    require_appointment,
    require_clinic,
    require_waitlist_entry,
)
from domain.services import Service
from domain.waitlist import InvalidWaitlistEntryError, Offer, WaitlistEntry

JOIN = "POST /waitlist/entries"  # what Idempotency-Keys of joins are scoped by
LONGEST_WAIT = timedelta(days=365)
MAX_ATTEMPTS = 5


class Waitlist:
    def __init__(self, app: ClinicApplication, bookings: Bookings, visits: Visits,
                 holding: Holding, offer_key: bytes) -> None:
        self.app, self.bookings, self.visits, self.holding = app, bookings, visits, holding
        self.offer_key = offer_key

    def join(self, command: WaitlistJoin, actor: Actor,
             key: IdempotencyKey | None = None) -> Outcome[WaitlistEntryPublic]:
        """A verified patient with current consent waits for a visit of the service; a retry
        with the same key answers again."""

        def create(derived_id: UUID | None) -> WaitlistEntryPublic:
            patient_id = patient_to_book_for(actor, command.patient_id)
            with acting_as(actor.doing("waitlist join")):
                entry = self._entry_for(patient_id, command, actor, datetime.now(UTC),
                                        derived_id)
                if not self.app.saved(entry):  # a retry whose answer was lost
                    entry = self.app.get(WaitlistEntry, entry.id, "waitlist entry")
            if entry.patient_id != patient_id:
                raise IdempotencyKeyReusedError("This Idempotency-Key was used for another "
                                                "waitlist entry.")
            return WaitlistEntryPublic.of(entry)

        return run_once(self.bookings.idempotency, key, JOIN, command, WaitlistEntryPublic,
                        create)

    def leave(self, entry_id: UUID, actor: Actor) -> WaitlistEntryPublic:
        """Stop waiting; an offer still open is declined at once, so it goes on to the next
        patient without waiting for it to expire."""
        for _attempt in range(MAX_ATTEMPTS):
            entry = self.reachable(entry_id, actor)
            with acting_as(actor.doing("waitlist leave")):
                offer = entry.leave()
                opening = None
                if offer is not None:
                    opening = self.app.get(Opening, offer.opening_id, "opening")
                    opening.lapse(datetime.now(UTC), declined=offer.offer_id)
                if self.app.saved(entry, *([opening] if opening else [])):
                    if offer is not None:
                        self.holding.holds.release(offer.slot_id, offer.hold_id)
                    return WaitlistEntryPublic.of(entry)
        raise ConflictError("the entry changed meanwhile; please try again")

    def prioritise(self, entry_id: UUID, command: PriorityChange,
                   actor: Actor) -> WaitlistEntryPublic:
        """Staff set an entry's clinical urgency: higher goes first (docs/waitlist.md)."""
        if actor.role is Role.patient:
            raise ForbiddenError("Only staff set a waitlist entry's urgency.")
        entry = self.reachable(entry_id, actor)
        with acting_as(actor.doing("waitlist priority")):
            entry.prioritise(command.priority)
            if not self.app.saved(entry):
                raise ConflictError("the entry changed meanwhile; please try again")
        return WaitlistEntryPublic.of(entry)

    def accept(self, entry_id: UUID, command: OfferAcceptance, actor: Actor,
               key: IdempotencyKey | None = None) -> Outcome[BookingPublic]:
        """Book the offered time (or move the entry's visit to it) with the offer's hold.
        Accepting again answers again; an offer expired or gone is refused."""
        entry = self.reachable(entry_id, actor)
        if entry.booked_offer == command.offer_id and entry.appointment_id is not None:
            return Outcome(BookingPublic.of(self.visits.appointment(entry.appointment_id)),
                           replayed=True)
        offer = entry.open_offer(command.offer_id, datetime.now(UTC))
        proof: dict[str, Any] = {"hold_id": offer.hold_id, "hold_secret": offer_hold_secret(
            self.offer_key, offer.offer_id)}
        if entry.instead_of is not None:
            outcome = Outcome(self.bookings.reschedule(
                entry.instead_of, Reschedule(slot_id=offer.slot_id, **proof), actor))
        else:
            outcome = self.bookings.book(
                BookingCreate(slot_id=offer.slot_id, patient_id=entry.patient_id, **proof),
                actor, key or IdempotencyKey(actor.subject, f"waitlist-offer:{offer.offer_id}"))
        with acting_as(actor.doing("waitlist offer accepted")):
            self._accepted(entry_id, offer, outcome.result.id)
        return outcome

    def reachable(self, entry_id: UUID, actor: Actor) -> WaitlistEntry:
        """The entry, if the record-level policy lets this actor reach it."""
        entry = self.app.get(WaitlistEntry, entry_id, "waitlist entry")
        require_waitlist_entry(actor, entry_id, entry.patient_id, entry.clinic_ids,
                               entry.provider_id)
        return entry

    # ----------------------------------------------------------------------------------
    def _entry_for(self, patient_id: UUID, command: WaitlistJoin, actor: Actor,
                   now: datetime, entry_id: UUID | None) -> WaitlistEntry:
        """The rules of joining, on one read of everything they look at."""
        needed = [command.service_id, patient_id, *command.clinic_ids]
        if command.provider_id is not None:
            needed.append(command.provider_id)
        if command.instead_of is not None:
            needed.append(command.instead_of)
        loaded = self.app.get_many(*needed)
        service = found(loaded, Service, command.service_id, "service")
        patient = found(loaded, Patient, patient_id, "patient")
        patient.require_present()
        purposes = purposes_for_visit(service.modality)
        consents = self.app.get_many(*(Consent.create_id(patient_id, p.value) for p in purposes))
        require_bookable(patient, {p: consents.get(Consent.create_id(patient_id, p.value))
                                   for p in purposes})
        for clinic_id in command.clinic_ids:
            found(loaded, Clinic, clinic_id, "clinic")
            require_clinic(actor, clinic_id)
        provider_id, clinic_ids = command.provider_id, list(command.clinic_ids)
        not_after = command.not_after
        if provider_id is not None:
            provider = found(loaded, Provider, provider_id, "provider")
            if service.id not in provider.service_ids:
                raise InvalidWaitlistEntryError("that provider does not offer the service")
        if command.instead_of is not None:
            visit = self._movable(loaded, command.instead_of, patient_id, service.id, now,
                                  actor)
            provider_id, clinic_ids = visit.provider_id, [visit.clinic_id]
            not_after = min(not_after, visit.start)
        if not_after - now > LONGEST_WAIT:
            raise InvalidWaitlistEntryError("a waitlist entry lasts a year at most")
        return WaitlistEntry.join(patient_id, service.id, clinic_ids, provider_id,
                                  command.not_before or now, not_after, command.instead_of,
                                  now, id=entry_id)

    @staticmethod
    def _movable(loaded: dict[UUID, Any], appointment_id: UUID, patient_id: UUID,
                 service_id: UUID, now: datetime, actor: Actor) -> Appointment:
        """The patient's own upcoming visit of the service, which an offer would move."""
        visit = found(loaded, Appointment, appointment_id, "appointment")
        require_appointment(actor, appointment_id, visit.patient_id, visit.provider_id,
                            visit.clinic_id)
        if visit.patient_id != patient_id or visit.service_id != service_id or \
                visit.status is not AppointmentStatus.booked or visit.start <= now:
            raise InvalidWaitlistEntryError(
                "instead_of names an upcoming booked visit of this patient and service")
        return visit

    def _accepted(self, entry_id: UUID, offer: Offer, appointment_id: UUID) -> None:
        """Record the acceptance on the entry and the opening; if the time had been offered
        on meanwhile (the offer expired while the booking was made), that offer ends."""
        for _attempt in range(MAX_ATTEMPTS):
            loaded = self.app.get_many(entry_id, offer.opening_id)
            entry = found(loaded, WaitlistEntry, entry_id, "waitlist entry")
            opening = found(loaded, Opening, offer.opening_id, "opening")
            entry.booked(offer.offer_id, appointment_id)
            displaced = opening.accepted(offer.offer_id, entry_id, appointment_id)
            other = None
            if displaced is not None:
                other = self.app.get(WaitlistEntry, displaced[0], "waitlist entry")
                other.lapse(displaced[1].offer_id, "taken")
            if self.app.saved(entry, opening, *([other] if other else [])):
                if displaced is not None:
                    self.holding.holds.release(offer.slot_id, displaced[1].hold_id)
                return
        raise ConflictError("the offer changed meanwhile; the visit is booked")
