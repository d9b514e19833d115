"""Offers on freed time: the waitlist's own side, run by the offer matcher (a log follower).

For each time a cancellation or a move freed, `advance` takes one step, deciding on the event
store's aggregates, never on the read model alone: open the time as an Opening; end an offer
that expired (the patient waits again); close the time if it was booked another way or can no
longer be booked; else offer it to the next patient in line who may be offered it (skipping,
on record, one who was erased, lost consent or never verified), with a hold on the slot for
as long as the offer lasts. New hours open time too: `open_new_hours` records an Opening for
a slot of theirs that suits a waiting patient, and the same steps offer it. Every step is an
event (docs/waitlist.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from commands.application import ClinicApplication
from commands.calendars import around
from commands.context import SYSTEM_ACTOR, acting_as
from commands.holds import secret_hash
from commands.offer_rules import (
    cannot_offer,
    offer_hold_secret,
    offer_holder,
    offer_holder_prefix,
    people_to_read,
)
from commands.ports import HoldLimitReached, Holds, SlotCatalog, WaitlistBoard
from domain.appointments import Appointment
from domain.calendars import ProviderCalendar
from domain.openings import Opening
from domain.providers import Provider
from domain.schedules import Schedule
from domain.slots import Slot
from domain.waitlist import InLine, Offer, WaitlistEntry, in_line

LOOK_AHEAD = 20  # entries read per step: the first one who may be offered usually is first
HOLDS_PER_PATIENT = 20  # offers a patient may hold at once (one per entry in practice)
ORPHANED = timedelta(seconds=30)  # a step takes milliseconds between its hold and its save


class Offers:
    def __init__(self, app: ClinicApplication, slots: SlotCatalog, holds: Holds,
                 board: WaitlistBoard, offer_key: bytes, lasting: timedelta) -> None:
        self.app, self.slots, self.holds, self.board = app, slots, holds, board
        self.offer_key, self.lasting = offer_key, lasting

    def advance(self, opening_id: UUID, freed_by: UUID, slot_id: UUID | None,
                now: datetime) -> str:
        """One step for one freed time; returns what happened (for logs and tests): gone
        (nothing to offer), nobody (in line), offered, expired (the open offer lapsed),
        waiting (an offer is open), held (by someone checking out), closed, conflict (another
        writer moved first: the next pass looks again)."""
        with acting_as(SYSTEM_ACTOR.doing("waitlist offer")):
            opening = self.app.find(Opening, opening_id)
            if opening is None:  # recorded only once someone waits for such a time
                freed = self._freed(freed_by, slot_id, now)
                if freed is None:
                    return "gone"
                if not self.board.in_line_for(freed, (), 1):
                    return "nobody"
                opening = self._opened(opening_id, freed_by, freed)
            if opening.closed:
                return "closed"
            if (lapsed := opening.lapse(now)) is not None:
                return self._lapsed(opening, *lapsed)
            if opening.offer is not None:
                return "waiting"
            slot = self.slots.slot(opening.freed.slot_id)
            if slot is None or slot.book_by <= now:
                return self._closed(opening, "passed")
            if self._taken(opening.freed):
                return self._closed(opening, "taken")
            if self._held(opening.freed.slot_id):
                return "held"  # a patient is checking out with it; look again later
            return self._offer_next(opening, now)

    def open_new_hours(self, schedule_id: UUID, version: int, changed: datetime,
                       now: datetime) -> int:
        """A provider's hours at a clinic changed at `changed`: for the first entries
        waiting since before then (in offer order) that one of the provider's open times
        there suits, record an Opening of the soonest such time, one per time; the matcher's
        next steps offer each in line order (the first in line for it may be someone else
        who waits for it too). Someone who joined later saw those times when they joined.
        Returns how many openings it recorded."""
        schedule = self.app.find(Schedule, schedule_id)
        provider = None if schedule is None else self.app.find(Provider, schedule.provider_id)
        if schedule is None or provider is None:
            return 0
        entry_ids = self.board.waiting_at(provider.id, schedule.clinic_id,
                                          provider.service_ids, changed, LOOK_AHEAD)
        entries = [e for e in self.app.get_many(*entry_ids).values()
                   if isinstance(e, WaitlistEntry)]
        by_id = {e.id: e for e in entries}
        chosen: set[UUID] = set()
        with acting_as(SYSTEM_ACTOR.doing("waitlist: new hours")):
            for place in in_line(InLine(e.priority, e.created_on, e.id) for e in entries):
                entry = by_id[place.entry_id]
                slot = next((s for s in self.slots.open_between(
                    provider.id, schedule.clinic_id, entry.service_id,
                    max(entry.not_before, now), entry.not_after, LOOK_AHEAD)
                    if s.slot_id not in chosen and entry.matches(s)
                    and self.holds.holding(s.slot_id) is None), None)
                if slot is None:
                    continue
                chosen.add(slot.slot_id)
                opening_id = Opening.create_id_for_hours(schedule_id, version, slot.slot_id)
                if self.app.find(Opening, opening_id) is None:
                    self.app.saved(Opening.open(opening_id, schedule_id, slot))
        return len(chosen)

    def expire_entry(self, entry_id: UUID, now: datetime) -> bool:
        """End an entry whose window has passed (an open offer runs its course first)."""
        with acting_as(SYSTEM_ACTOR.doing("waitlist window ended")):
            entry = self.app.find(WaitlistEntry, entry_id)
            if entry is None:
                return False
            entry.expire(now)
            return bool(entry.pending_events) and self.app.saved(entry)

    # ----------------------------------------------------------------------------------
    def _freed(self, freed_by: UUID, slot_id: UUID | None,
               now: datetime) -> Slot | None:
        """The time a cancellation, move or hand-off freed; None when there is nothing to
        offer (the time is past booking, or its slot is no longer offered)."""
        if slot_id is None:  # the appointment says which slot it held
            appointment = self.app.find(Appointment, freed_by)
            if appointment is None:
                return None
            slot_id = appointment.slot_id
        slot = self.slots.slot(slot_id)
        return None if slot is None or slot.book_by <= now else slot

    def _opened(self, opening_id: UUID, freed_by: UUID, freed: Slot) -> Opening:
        opening = Opening.open(opening_id, freed_by, freed)
        if self.app.saved(opening):
            return opening
        return self.app.get(Opening, opening_id, "opening")  # recorded meanwhile

    def _lapsed(self, opening: Opening, entry_id: UUID, offer: Offer) -> str:
        """The offer expired unanswered: its patient waits again (passed over for this
        time), and the hold goes; the next step offers the time on."""
        entry = self.app.get(WaitlistEntry, entry_id, "waitlist entry")
        entry.lapse(offer.offer_id, "expired")
        if not self.app.saved(opening, entry):
            return "conflict"
        self.holds.release(opening.freed.slot_id, offer.hold_id)
        return "expired"

    def _held(self, slot_id: UUID) -> bool:
        """Someone holds the slot. A waitlist hold that no open offer names (the read model's
        offered entries, checked on the entries), placed more than ORPHANED ago, was left by
        a step that stopped between the hold and the save (a crash): it is released, so that
        the time is not lost until it expires."""
        current = self.holds.holding(slot_id)
        if current is None:
            return False
        hold = current[0]
        placed = hold.expires_at - self.lasting
        if not hold.holder.startswith(offer_holder_prefix()) or \
                datetime.now(UTC) - placed < ORPHANED:
            return True
        offered = self.app.get_many(*self.board.offered_on(slot_id)).values()
        if any(isinstance(entry, WaitlistEntry) and entry.offer is not None and
               entry.offer.hold_id == hold.hold_id for entry in offered):
            return True  # an open offer's own hold
        self.holds.release(slot_id, hold.hold_id)
        return False

    def _closed(self, opening: Opening, cause: str) -> str:
        opening.close(cause)
        return "closed" if self.app.saved(opening) else "conflict"

    def _taken(self, freed: Slot) -> bool:
        """Booked another way: a reservation on the provider's calendar overlaps the time."""
        loaded = self.app.get_many(*around(freed.provider_id, freed.start, freed.end))
        return any(held.start < freed.end and freed.start < held.end
                   for calendar in loaded.values() if isinstance(calendar, ProviderCalendar)
                   for held in calendar.reservations.values())

    def _offer_next(self, opening: Opening, now: datetime) -> str:
        freed = opening.freed
        entry_ids = self.board.in_line_for(freed, opening.tried, LOOK_AHEAD)
        entries = [e for e in self.app.get_many(*entry_ids).values()
                   if isinstance(e, WaitlistEntry) and e.matches(freed)]
        ids = people_to_read(entries, freed)
        people = self.app.get_many(*ids) if ids else {}
        order = in_line(InLine(e.priority, e.created_on, e.id) for e in entries)
        by_id = {e.id: e for e in entries}
        for place in order:
            entry = by_id[place.entry_id]
            cause = cannot_offer(entry, people, freed)
            if cause is not None:
                opening.skip(entry.id, cause)
                continue
            offer_id = opening.next_offer_id()
            try:
                hold = self.holds.place(freed.slot_id, offer_holder(entry.patient_id),
                                        secret_hash(offer_hold_secret(self.offer_key, offer_id)),
                                        int(self.lasting.total_seconds() * 1000),
                                        HOLDS_PER_PATIENT)
            except HoldLimitReached:  # offered as many times as a patient may hold at once
                opening.skip(entry.id, "offer-limit")
                continue
            if hold is None:  # someone took a hold just now
                return "held" if self.app.saved(opening) else "conflict"
            entry.offered(opening.make_offer(entry.id, entry.patient_id, hold.hold_id, now,
                                             self.lasting))
            if self.app.saved(opening, entry):
                return "offered"
            self.holds.release(freed.slot_id, hold.hold_id)
            return "conflict"
        if opening.pending_events and not self.app.saved(opening):
            return "conflict"
        return "nobody"
