"""WaitlistEntry: one patient waiting for a visit of a service sooner than the search offers,
within their constraints, until it is booked, they leave, or the window ends.

One aggregate per entry (decision 0049): entries of different patients never contend, and
the freed time they compete for has a boundary of its own (domain/openings.py). Who is
offered first is `in_line`: the clinic's urgency priority, then first come, first served.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError, RuleViolationError
from domain.slots import Slot

MAX_PRIORITY = 9  # staff's clinical urgency: 0 routine (the default) .. 9 most urgent


class EntryStatus(StrEnum):
    waiting = "waiting"
    offered = "offered"  # a freed time is held for the patient until the offer expires
    booked = "booked"
    left = "left"
    expired = "expired"


class WaitlistEntryClosedError(RuleViolationError):
    code = "waitlist-entry-closed"


class InvalidWaitlistEntryError(RuleViolationError):
    code = "invalid-waitlist-entry"


class OfferNotOpenError(ConflictError):
    """The offer expired, was answered, or was never this entry's."""

    code = "offer-not-open"


@dataclass(frozen=True)
class Offer:
    offer_id: UUID
    opening_id: UUID
    slot_id: UUID
    hold_id: UUID
    start: datetime
    end: datetime
    expires_at: datetime


class InLine(NamedTuple):
    """What the offer order looks at: urgency first, then who joined first."""

    priority: int
    joined_at: datetime
    entry_id: UUID


def in_line(waiting: Iterable[InLine]) -> list[InLine]:
    """The documented, deterministic offer order (docs/waitlist.md): higher priority first;
    within a priority, first come first served; the entry id breaks exact ties."""
    return sorted(waiting, key=lambda e: (-e.priority, e.joined_at, e.entry_id))


class WaitlistEntry(Aggregate):
    class Joined(Aggregate.Created):
        patient_id: UUID
        service_id: UUID
        clinic_ids: list[UUID]  # empty: any clinic (a video visit's clinic does not matter)
        provider_id: UUID | None
        not_before: datetime
        not_after: datetime
        instead_of: UUID | None  # a booked visit an accepted offer moves earlier

    class PrioritySet(Aggregate.Event):
        priority: int

    class Offered(Aggregate.Event):
        offer_id: UUID
        opening_id: UUID
        slot_id: UUID
        hold_id: UUID
        start: datetime
        end: datetime
        expires_at: datetime

    class OfferLapsed(Aggregate.Event):
        offer_id: UUID
        cause: str  # expired | declined

    class Booked(Aggregate.Event):
        offer_id: UUID
        appointment_id: UUID

    class Left(Aggregate.Event):
        pass

    class Expired(Aggregate.Event):
        pass

    @classmethod
    def join(cls, patient_id: UUID, service_id: UUID, clinic_ids: list[UUID],
             provider_id: UUID | None, not_before: datetime, not_after: datetime,
             instead_of: UUID | None, now: datetime, id: UUID | None = None) -> WaitlistEntry:
        if not_after <= max(not_before, now):
            raise InvalidWaitlistEntryError("the window must end after it starts, in the future")
        return cls(patient_id=patient_id, service_id=service_id,
                   clinic_ids=sorted(set(clinic_ids)), provider_id=provider_id,
                   not_before=not_before, not_after=not_after, instead_of=instead_of, id=id)

    @event(Joined)
    def __init__(self, patient_id: UUID, service_id: UUID, clinic_ids: list[UUID],
                 provider_id: UUID | None, not_before: datetime, not_after: datetime,
                 instead_of: UUID | None, id: UUID | None = None) -> None:
        self.patient_id, self.service_id, self.clinic_ids = patient_id, service_id, clinic_ids
        self.provider_id, self.instead_of = provider_id, instead_of
        self.not_before, self.not_after = not_before, not_after
        self.status = EntryStatus.waiting
        self.priority = 0
        self.offer: Offer | None = None
        self.appointment_id: UUID | None = None
        self.booked_offer: UUID | None = None

    @property
    def active(self) -> bool:
        return self.status in (EntryStatus.waiting, EntryStatus.offered)

    def matches(self, freed: Slot) -> bool:
        """The freed time meets every constraint of a waiting entry."""
        return (self.status is EntryStatus.waiting and freed.service_id == self.service_id
                and (not self.clinic_ids or freed.clinic_id in self.clinic_ids)
                and self.provider_id in (None, freed.provider_id)
                and self.not_before <= freed.start and freed.end <= self.not_after)

    def prioritise(self, priority: int) -> None:
        self._require_active("prioritise")
        if not 0 <= priority <= MAX_PRIORITY:
            raise InvalidWaitlistEntryError(f"priority is 0 (routine) to {MAX_PRIORITY}")
        if priority != self.priority:
            self._priority_set(priority)

    @event(PrioritySet)
    def _priority_set(self, priority: int) -> None:
        self.priority = priority

    def offered(self, offer: Offer) -> None:
        if self.status is not EntryStatus.waiting:
            raise WaitlistEntryClosedError(f"the entry is {self.status.value}")
        self._offered(offer.offer_id, offer.opening_id, offer.slot_id, offer.hold_id,
                      offer.start, offer.end, offer.expires_at)

    @event(Offered)
    def _offered(self, offer_id: UUID, opening_id: UUID, slot_id: UUID, hold_id: UUID,
                 start: datetime, end: datetime, expires_at: datetime) -> None:
        self.offer = Offer(offer_id, opening_id, slot_id, hold_id, start, end, expires_at)
        self.status = EntryStatus.offered

    def open_offer(self, offer_id: UUID, now: datetime) -> Offer:
        """The entry's offer with this id, if it can still be accepted now."""
        if self.offer is None or self.offer.offer_id != offer_id or \
                self.status is not EntryStatus.offered or now >= self.offer.expires_at:
            raise OfferNotOpenError("that offer has expired or was answered")
        return self.offer

    def lapse(self, offer_id: UUID, cause: str) -> None:
        """The offer ended unanswered: the entry waits again, in its place in line."""
        if self.offer is not None and self.offer.offer_id == offer_id and \
                self.status is EntryStatus.offered:
            self._lapsed(offer_id, cause)

    @event(OfferLapsed)
    def _lapsed(self, offer_id: UUID, cause: str) -> None:
        self.offer = None
        self.status = EntryStatus.waiting

    def booked(self, offer_id: UUID, appointment_id: UUID) -> None:
        if self.booked_offer != offer_id:
            self._booked(offer_id, appointment_id)

    @event(Booked)
    def _booked(self, offer_id: UUID, appointment_id: UUID) -> None:
        self.offer = None
        self.status = EntryStatus.booked
        self.appointment_id, self.booked_offer = appointment_id, offer_id

    def leave(self) -> Offer | None:
        """The patient no longer waits; returns the offer they leave open, if any."""
        self._require_active("leave")
        offer = self.offer
        self._left()
        return offer

    @event(Left)
    def _left(self) -> None:
        self.offer = None
        self.status = EntryStatus.left

    def expire(self, now: datetime) -> None:
        """The window has ended without a visit (an open offer runs its course first)."""
        if self.status is EntryStatus.waiting and now >= self.not_after:
            self._expired()

    @event(Expired)
    def _expired(self) -> None:
        self.status = EntryStatus.expired

    def _require_active(self, action: str) -> None:
        if not self.active:
            raise WaitlistEntryClosedError(f"cannot {action} an entry that is "
                                           f"{self.status.value}")
