"""The waitlist's offers against a reference model (hypothesis state machine): patients join
with constraints, time is freed, the matcher steps, offers expire, patients accept or leave.
Always: a freed time is offered to at most one patient at a time and booked at most once; it
is never offered to an entry whose constraints it does not meet; each offer goes to the first
matching waiting entry in the documented order (domain/waitlist.py: in_line)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from commands.booking import BookingCreate
from commands.context import Actor
from commands.offers import Offers
from commands.ports import SlotInfo, WaitlistBoard
from commands.waitlist_models import OfferAcceptance, PriorityChange, WaitlistJoin
from domain.access import Role
from domain.agendas import PatientBusyError
from domain.clinics import Address
from domain.modality import Modality
from domain.openings import Opening
from domain.slots import Slot
from domain.waitlist import EntryStatus, InLine, OfferNotOpenError, WaitlistEntry, in_line
from tests.builders import ALL_DAY, rules, slot_at
from tests.driver import ClinicDriver
from tests.fakes import FakeHolds, FakeSlots, in_memory_use_cases

ZONE = ZoneInfo("America/Chicago")
PATIENTS = 5
# (first day, last day) ahead of today: windows the entries ask for
WINDOWS = [(2, 3), (2, 5), (3, 5), (4, 5)]


class ScannedBoard(WaitlistBoard):
    """The line as the read model gives it, computed from the entries themselves."""

    def __init__(self, driver: ClinicDriver) -> None:
        self.driver, self.entry_ids = driver, []  # type: ignore[var-annotated]

    def in_line_for(self, freed: Slot, passed_over: Collection[UUID],
                    limit: int) -> list[UUID]:
        loaded = self.driver.use_cases.bookings.app.get_many(*self.entry_ids)
        waiting = [InLine(e.priority, e.created_on, e.id) for e in loaded.values()
                   if e.matches(freed) and e.id not in passed_over]
        return [e.entry_id for e in in_line(waiting)][:limit]

    def offered_on(self, slot_id: UUID) -> list[UUID]:
        loaded = self.driver.use_cases.bookings.app.get_many(*self.entry_ids)
        return [e.id for e in loaded.values() if e.offer and e.offer.slot_id == slot_id]


@dataclass
class FreedSlot:
    opening_id: UUID
    freed_by: UUID
    slot: SlotInfo
    tried: set[UUID] = field(default_factory=set)
    closed: bool = False


class WaitlistOffers(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.use_cases = in_memory_use_cases()
        self.driver = app = ClinicDriver(self.use_cases)
        self.app = self.use_cases.bookings.app
        clinic = app.register_clinic("C", Address("1 A St", "Town", "IL", "60601"),
                                     "America/Chicago", [Modality.in_person])
        service = app.register_service("Visit", 30, Modality.in_person)
        self.doctors = [app.register_provider(f"Dr {n}", [clinic], [service]) for n in range(2)]
        for doctor in self.doctors:
            app.publish_availability(doctor, clinic, rules(ALL_DAY))
        self.clinic, self.service = clinic, service
        self.patients = [app.ready_patient("P", f"Q{n}", f"p{n}@example.org")
                         for n in range(PATIENTS)]
        self.canceller = app.ready_patient("C", "X", "c@example.org")
        self.slots = [self._slot(doctor, day, hour) for doctor in range(2)
                      for day in (2, 3, 4) for hour in (9, 10)]
        self.board = ScannedBoard(app)
        holding = self.use_cases.holding
        assert isinstance(holding.holds, FakeHolds) and isinstance(holding.slots, FakeSlots)
        self.offers = Offers(self.app, holding.slots, holding.holds, self.board,
                             self.use_cases.waitlist.offer_key, timedelta(minutes=15))
        self.now = datetime.now(UTC)
        self.freed: list[FreedSlot] = []
        self.booked: dict[UUID, UUID] = {}  # slot -> patient, through the waitlist

    def _slot(self, doctor: int, days_ahead: int, hour: int) -> SlotInfo:
        day = datetime.now(ZONE).date() + timedelta(days=days_ahead)
        start = datetime.combine(day, time(hour), ZONE).astimezone(UTC)
        slot = slot_at(self.driver, self.doctors[doctor], self.clinic, self.service, start)
        slots = self.use_cases.holding.slots
        assert isinstance(slots, FakeSlots)
        slots.offered[slot.slot_id] = slot
        return slot

    def _entries(self) -> list[WaitlistEntry]:
        return [e for e in self.app.get_many(*self.board.entry_ids).values()]

    def _as(self, patient_id: UUID) -> Actor:
        return Actor(subject=str(patient_id), role=Role.patient)

    # -- rules ---------------------------------------------------------------------------
    @rule(patient=st.integers(0, PATIENTS - 1), window=st.sampled_from(WINDOWS),
          doctor=st.sampled_from([None, 0, 1]))
    def join(self, patient: int, window: tuple[int, int], doctor: int | None) -> None:
        today = datetime.now(ZONE).date()
        first, last = (datetime.combine(today + timedelta(days=d), time(0), ZONE)
                       for d in (window[0], window[1]))
        joined = self.use_cases.waitlist.join(WaitlistJoin(
            service_id=self.service, not_before=first, not_after=last,
            provider_id=None if doctor is None else self.doctors[doctor]),
            self._as(self.patients[patient])).result
        self.board.entry_ids.append(joined.id)

    @rule(data=st.data(), priority=st.integers(0, 2))
    def prioritise(self, data: st.DataObject, priority: int) -> None:
        active = [e for e in self._entries() if e.active]
        if active:
            entry = active[data.draw(st.integers(0, len(active) - 1))]
            self.use_cases.waitlist.prioritise(entry.id, PriorityChange(priority=priority),
                                               Actor(subject="admin-1", role=Role.admin))

    @rule(slot=st.integers(0, 11))
    def free(self, slot: int) -> None:
        info = self.slots[slot]
        if info.slot_id in self.booked or any(f.slot.slot_id == info.slot_id
                                               for f in self.freed if not f.closed):
            return
        booked = self.use_cases.bookings.book(BookingCreate(slot_id=info.slot_id),
                                              self._as(self.canceller)).result
        cancelled = self.use_cases.bookings.cancel(booked.id, "", self._as(self.canceller))
        self.freed.append(FreedSlot(Opening.create_id(booked.id, cancelled.version),
                                    booked.id, info))

    @rule()
    def step(self) -> None:
        for freed in self.freed:
            if freed.closed:
                continue
            expected = self._next_in_line(freed)
            self.offers.advance(freed.opening_id, freed.freed_by, None, self.now)
            offered = self._offered_on(freed.slot.slot_id)
            if offered is not None and offered.offer is not None and \
                    offered.offer.opening_id == freed.opening_id and \
                    offered.id not in freed.tried:
                assert offered.id == expected, "the offer skipped the first in line"
                freed.tried.add(offered.id)
            elif expected is not None:
                assert offered is not None, "someone matched, and no one was offered the time"

    @rule()
    def time_passes(self) -> None:
        self.now += timedelta(minutes=16)

    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        entries = self._entries()
        if not entries:
            return
        entry = entries[data.draw(st.integers(0, len(entries) - 1))]
        offer_id = entry.offer.offer_id if entry.offer else entry.id  # a stale id otherwise
        slot = entry.offer.slot_id if entry.offer else None
        try:
            booking = self.use_cases.waitlist.accept(entry.id, OfferAcceptance(
                offer_id=offer_id), self._as(entry.patient_id)).result
        except OfferNotOpenError:
            assert entry.offer is None
            return
        except PatientBusyError:
            return  # they took an overlapping time with the other doctor meanwhile
        assert slot is not None and booking.slot_id == slot
        assert slot not in self.booked, "a freed time was booked twice"
        self.booked[slot] = entry.patient_id
        for freed in self.freed:
            if freed.slot.slot_id == slot:
                freed.closed = True

    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        active = [e for e in self._entries() if e.active]
        if active:
            entry = active[data.draw(st.integers(0, len(active) - 1))]
            self.use_cases.waitlist.leave(entry.id, self._as(entry.patient_id))

    # -- the reference model ---------------------------------------------------------------
    def _next_in_line(self, freed: FreedSlot) -> UUID | None:
        """Who should be offered the time now: nobody while an offer is open and unexpired;
        else the first waiting entry that matches and was not tried for it."""
        opening = self.app.find(Opening, freed.opening_id)
        if opening is not None and opening.offer is not None:
            if self.now < opening.offer.expires_at:
                return None
            return None  # this step ends the offer; the next one offers on
        line = in_line(InLine(e.priority, e.created_on, e.id) for e in self._entries()
                       if e.matches(freed.slot) and e.id not in freed.tried)
        return line[0].entry_id if line else None

    def _offered_on(self, slot_id: UUID) -> WaitlistEntry | None:
        offered = [e for e in self._entries()
                   if e.status is EntryStatus.offered and e.offer and e.offer.slot_id == slot_id]
        assert len(offered) <= 1, "a freed time was offered to two patients at once"
        return offered[0] if offered else None

    @invariant()
    def offers_go_only_to_matching_entries_one_at_a_time(self) -> None:
        by_slot = {s.slot_id: s for s in self.slots}
        for entry in self._entries():
            if entry.status is EntryStatus.offered:
                assert entry.offer is not None
                slot = by_slot[entry.offer.slot_id]
                assert entry.provider_id in (None, slot.provider_id)
                assert entry.not_before <= slot.start and slot.end <= entry.not_after
        for slot in self.slots:
            self._offered_on(slot.slot_id)


WaitlistOffers.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestWaitlistOffers = WaitlistOffers.TestCase
