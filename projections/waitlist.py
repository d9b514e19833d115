"""The waitlist read model (active entries, freed times) and the offer matcher that follows it.

`apply_events` decides what each event changes (infra/postgres/waitlist.py writes it, with
the tracking position, in one transaction). Time is freed by a cancellation, a move to
another time, and a hand-off to another provider; new hours (a schedule published or
changed) are marked, to be looked at once slot search shows them. The matcher is a loop like
the reminder scheduler: it reads which freed times may need a step, asks the write side to
take it (the aggregates decide: commands/offers.py), opens time for the waiting from new
hours, and ends entries whose window has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from domain.appointments import Appointment
from domain.openings import Opening
from domain.patients import Patient
from domain.schedules import Schedule
from domain.waitlist import EntryStatus, WaitlistEntry
from projections.periodic import PeriodicWorker

Clock = Callable[[], datetime]
Advance = Callable[[UUID, UUID, UUID | None, datetime], str]
ExpireEntry = Callable[[UUID, datetime], bool]
OpenHours = Callable[[UUID, int, datetime, datetime], int]
_NO_OFFER = {"offer_id": None, "opening_id": None, "offer_slot_id": None,
             "offer_start": None, "offer_end": None, "offer_expires_at": None}


class WaitlistWriter(Protocol):
    def add_entry(self, row: dict[str, Any]) -> None: ...
    def change_entry(self, entry_id: UUID, changes: dict[str, Any]) -> None: ...
    def patient_erased(self, patient_id: UUID) -> None:
        """The patient's active entries end: nobody is offered anything on their behalf."""

    def add_opening(self, row: dict[str, Any]) -> None: ...
    def change_opening(self, opening_id: UUID, changes: dict[str, Any]) -> None: ...
    def new_hours(self, schedule_id: UUID, version: int, at: datetime) -> None:
        """A schedule's hours changed: look for waiting patients once slot search shows
        the change."""


def apply_events(writer: WaitlistWriter, events: Iterable[Any]) -> None:
    for event in events:
        if isinstance(event, Appointment.Cancelled | Appointment.Rescheduled |
                      Appointment.HandedOff):
            _freed(writer, event)
        elif isinstance(event, WaitlistEntry.Event):
            _entry(writer, event)
        elif isinstance(event, Opening.Event):
            _opening(writer, event)
        elif isinstance(event, Patient.Erased):
            writer.patient_erased(event.originator_id)
        elif isinstance(event, Schedule.Published | Schedule.RulesChanged):
            writer.new_hours(event.originator_id, event.originator_version, event.timestamp)


def _freed(writer: WaitlistWriter, e: Any) -> None:
    """A cancellation frees the visit's slot, a move its previous one, a hand-off the first
    provider's (the slot the appointment names: the write side reads it)."""
    moved = isinstance(e, Appointment.Rescheduled)
    writer.add_opening({
        "opening_id": Opening.create_id(e.originator_id, e.originator_version),
        "freed_by": e.originator_id, "slot_id": e.previous_slot_id if moved else None,
        "freed_at": e.timestamp})


def _entry(writer: WaitlistWriter, e: Any) -> None:
    eid, at = e.originator_id, e.timestamp
    if isinstance(e, WaitlistEntry.Joined):
        writer.add_entry({
            "entry_id": eid, "patient_id": e.patient_id, "service_id": e.service_id,
            "clinic_ids": e.clinic_ids, "provider_id": e.provider_id,
            "not_before": e.not_before, "not_after": e.not_after,
            "instead_of": e.instead_of, "priority": 0, "status": EntryStatus.waiting.value,
            "joined_at": at, "updated_at": at, **_NO_OFFER})
        return
    changes: dict[str, Any] = {}
    if isinstance(e, WaitlistEntry.PrioritySet):
        changes = {"priority": e.priority}
    elif isinstance(e, WaitlistEntry.Offered):
        changes = {"status": EntryStatus.offered.value, "offer_id": e.offer_id,
                   "opening_id": e.opening_id, "offer_slot_id": e.slot_id,
                   "offer_start": e.start, "offer_end": e.end,
                   "offer_expires_at": e.expires_at}
    elif isinstance(e, WaitlistEntry.OfferLapsed):
        changes = {"status": EntryStatus.waiting.value, **_NO_OFFER}
    elif isinstance(e, WaitlistEntry.Booked):
        changes = {"status": EntryStatus.booked.value, "appointment_id": e.appointment_id,
                   **_NO_OFFER}
    elif isinstance(e, WaitlistEntry.Left):
        changes = {"status": EntryStatus.left.value, **_NO_OFFER}
    elif isinstance(e, WaitlistEntry.Expired):
        changes = {"status": EntryStatus.expired.value}
    if changes:
        writer.change_entry(eid, {**changes, "updated_at": at})


def _opening(writer: WaitlistWriter, e: Any) -> None:
    changes: dict[str, Any] = {}
    if isinstance(e, Opening.Opened):  # new hours' openings have no freed row yet
        writer.add_opening({"opening_id": e.originator_id, "freed_by": e.freed_by,
                            "slot_id": e.slot_id, "freed_at": e.timestamp})
        changes = {"status": "open", "slot_id": e.slot_id, "start_at": e.start}
    elif isinstance(e, Opening.Offered):
        changes = {"offer_expires_at": e.expires_at}
    elif isinstance(e, Opening.OfferLapsed):
        changes = {"offer_expires_at": None}
    elif isinstance(e, Opening.Accepted | Opening.Closed):
        changes = {"status": "closed", "offer_expires_at": None}
    if changes:
        writer.change_opening(e.originator_id, changes)


class WaitlistSchedule(Protocol):
    def pending_openings(self, now: datetime, limit: int,
                         resting: Collection[UUID] = ()) -> list[tuple[UUID, UUID, UUID | None]]:
        """(opening id, the appointment that freed it, the slot if known) of freed times
        not closed and without an offer open until after `now`, oldest first, less those
        `resting`."""

    def ended_windows(self, now: datetime, limit: int) -> list[UUID]:
        """Waiting entries whose window has ended."""

    def settle(self, opening_id: UUID) -> None:
        """Nothing can be offered of this freed time: stop looking at it."""

    def new_hours_shown(self, limit: int) -> list[tuple[UUID, int, datetime]]:
        """(schedule id, version, when) of hours changes slot search has caught up with."""

    def new_hours_done(self, schedule_id: UUID, version: int) -> None: ...


# A freed time nobody waits for (or someone holds while checking out) is looked at again only
# after a rest: each look costs a few reads, and most cancellations find no one waiting.
RESTS = {"nobody": timedelta(seconds=30), "held": timedelta(seconds=10)}


class OfferMatcher(PeriodicWorker):
    name = "offers"

    def __init__(self, schedule: WaitlistSchedule, advance: Advance, expire: ExpireEntry,
                 clock: Clock, *, every: float = 2.0, batch: int = 100,
                 open_hours: OpenHours | None = None) -> None:
        super().__init__(every)
        self.schedule, self.advance, self.expire = schedule, advance, expire
        self.open_hours = open_hours
        self.clock, self.batch = clock, batch
        self.resting: dict[UUID, datetime] = {}  # opening -> when to look at it again

    def run_once(self) -> dict[str, int]:
        """Time opened by new hours, one step for every freed time that may need one, then
        the ended windows; returns how many steps had each outcome."""
        now = self.clock()
        self.resting = {k: until for k, until in self.resting.items() if until > now}
        outcomes: dict[str, int] = {}
        if self.open_hours is not None:
            for schedule_id, version, changed in self.schedule.new_hours_shown(self.batch):
                if opened := self.open_hours(schedule_id, version, changed, now):
                    outcomes["hours-opened"] = outcomes.get("hours-opened", 0) + opened
                self.schedule.new_hours_done(schedule_id, version)
        for opening_id, freed_by, slot_id in self.schedule.pending_openings(
                now, self.batch, self.resting):
            outcome = self.advance(opening_id, freed_by, slot_id, now)
            if outcome == "gone":
                self.schedule.settle(opening_id)
            elif outcome in RESTS:
                self.resting[opening_id] = now + RESTS[outcome]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for entry_id in self.schedule.ended_windows(now, self.batch):
            if self.expire(entry_id, now):
                outcomes["entry-expired"] = outcomes.get("entry-expired", 0) + 1
        return outcomes
