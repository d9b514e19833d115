"""Opening: time a cancellation or a move gave back, or new hours opened, offered to the
waitlist one patient at a time until someone books it, it is taken another way, or its time
passes.

The consistency boundary of the offers for one freed time (decision 0049): an offer is
recorded only while no other is open, so two matchers racing over the same time cannot both
offer it; each offer, expiry, skip and acceptance is an event. The id is derived from the
event that freed the time, so recording an opening twice (a follower restarted) finds the
first one. Booking the time is still decided by the provider's calendar, not here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError
from domain.slots import Slot
from domain.waitlist import Offer

OPENING_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:waitlist-opening")


class OfferPendingError(ConflictError):
    code = "offer-pending"


class Opening(Aggregate):
    class Opened(Aggregate.Created):
        freed_by: UUID  # the appointment that freed the time, or the schedule that opened it
        slot_id: UUID
        provider_id: UUID
        clinic_id: UUID
        service_id: UUID
        modality: str
        start: datetime
        end: datetime

    class Offered(Aggregate.Event):
        offer_id: UUID
        entry_id: UUID
        patient_id: UUID
        hold_id: UUID
        expires_at: datetime

    class OfferLapsed(Aggregate.Event):
        offer_id: UUID
        entry_id: UUID
        cause: str  # expired | declined

    class Skipped(Aggregate.Event):
        """A patient next in line who cannot be offered the time (never told why: ids and a
        stable cause only, e.g. patient-erased, consent-withdrawn)."""

        entry_id: UUID
        cause: str

    class Accepted(Aggregate.Event):
        offer_id: UUID
        entry_id: UUID
        appointment_id: UUID

    class Closed(Aggregate.Event):
        cause: str  # taken (booked another way) | passed (too late to book)

    @staticmethod
    def create_id(appointment_id: UUID, freeing_version: int) -> UUID:
        return uuid5(OPENING_NAMESPACE, f"{appointment_id}/{freeing_version}")

    @staticmethod
    def create_id_for_hours(schedule_id: UUID, version: int, slot_id: UUID) -> UUID:
        """New hours open many slots: one opening per slot offered of that change."""
        return uuid5(OPENING_NAMESPACE, f"hours/{schedule_id}/{version}/{slot_id}")

    @classmethod
    def open(cls, opening_id: UUID, freed_by: UUID, freed: Slot) -> Opening:
        return cls(freed_by=freed_by, slot_id=freed.slot_id, provider_id=freed.provider_id,
                   clinic_id=freed.clinic_id, service_id=freed.service_id,
                   modality=freed.modality, start=freed.start, end=freed.end, id=opening_id)

    @event(Opened)
    def __init__(self, freed_by: UUID, slot_id: UUID, provider_id: UUID, clinic_id: UUID,
                 service_id: UUID, modality: str, start: datetime, end: datetime,
                 id: UUID | None = None) -> None:
        self.freed_by = freed_by
        self.freed = Slot(slot_id, provider_id, clinic_id, service_id, modality, start,
                               end)
        self.offer: Offer | None = None
        self.offer_entry: UUID | None = None
        self.tried: set[UUID] = set()  # entries offered (or skipped) once: never again here
        self.rounds = 0
        self.closed = False

    def next_offer_id(self) -> UUID:
        return uuid5(OPENING_NAMESPACE, f"{self.id}/offer/{self.rounds + 1}")

    def make_offer(self, entry_id: UUID, patient_id: UUID, hold_id: UUID, now: datetime,
                   lasting: timedelta) -> Offer:
        """Offer the time to the entry next in line; only one offer is open at a time."""
        if self.closed or self.offer is not None:
            raise OfferPendingError("the time is already offered or gone")
        if entry_id in self.tried:
            raise OfferPendingError("that entry was offered this time already")
        offer_id = self.next_offer_id()
        self._offered(offer_id, entry_id, patient_id, hold_id, now + lasting)
        assert self.offer is not None
        return self.offer

    @event(Offered)
    def _offered(self, offer_id: UUID, entry_id: UUID, patient_id: UUID, hold_id: UUID,
                 expires_at: datetime) -> None:
        self.rounds += 1
        self.offer = Offer(offer_id, self.id, self.freed.slot_id, hold_id, self.freed.start,
                           self.freed.end, expires_at)
        self.offer_entry = entry_id
        self.tried.add(entry_id)

    def lapse(self, now: datetime, *,
              declined: UUID | None = None) -> tuple[UUID, Offer] | None:
        """End the open offer if it has expired (or its patient `declined` it, e.g. left the
        waitlist); returns the entry and the offer that ended."""
        offer, entry = self.offer, self.offer_entry
        if offer is None or entry is None:
            return None
        if declined is not None and declined != offer.offer_id:
            return None
        if declined is None and now < offer.expires_at:
            return None
        self._lapsed(offer.offer_id, entry, "declined" if declined else "expired")
        return entry, offer

    @event(OfferLapsed)
    def _lapsed(self, offer_id: UUID, entry_id: UUID, cause: str) -> None:
        self.offer, self.offer_entry = None, None

    def skip(self, entry_id: UUID, cause: str) -> None:
        if entry_id not in self.tried:
            self._skipped(entry_id, cause)

    @event(Skipped)
    def _skipped(self, entry_id: UUID, cause: str) -> None:
        self.tried.add(entry_id)

    def accepted(self, offer_id: UUID, entry_id: UUID,
                 appointment_id: UUID) -> tuple[UUID, Offer] | None:
        """The time was booked through an offer (recorded even if the offer lapsed while the
        booking was being made: the calendar let it through, so it was still free). Returns
        another entry's offer this ends, if the time had been offered on meanwhile."""
        displaced = None
        if self.offer is not None and self.offer_entry is not None and \
                self.offer.offer_id != offer_id:
            displaced = (self.offer_entry, self.offer)
        if not self.closed:
            self._accepted(offer_id, entry_id, appointment_id)
        return displaced

    @event(Accepted)
    def _accepted(self, offer_id: UUID, entry_id: UUID, appointment_id: UUID) -> None:
        self.offer, self.offer_entry = None, None
        self.closed = True

    def close(self, cause: str) -> None:
        if not self.closed:
            self._closed(cause)

    @event(Closed)
    def _closed(self, cause: str) -> None:
        self.offer, self.offer_entry = None, None
        self.closed = True
