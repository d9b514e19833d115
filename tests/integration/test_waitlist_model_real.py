"""The waitlist's offers against a reference model (a hypothesis state machine), on the real
stores: the event store and the waitlist read model on PostgreSQL, holds in Redis, the real
offer matcher step (tests/e2e/waitlist_flow.py: matching) on a clock the test moves.

Patients join with varied constraints (two clinics, an in-person and a video service, an
optional provider, windows, "earlier than my booking"), staff set urgency, patients withdraw
and give consent, time is freed by cancellations and by the moves accepted offers make,
offers expire, patients accept, decline by leaving, or leave. A patient without the consent a
time needs is passed over (Opening.Skipped), never offered it.
After every step: a freed time has at most one open offer (one Redis hold, its patient's), is
booked at most once (once in the event store and the read model), is never offered to an entry
whose constraints it does not meet, and each offer goes to the first in the reference model's
own order (tests/integration/waitlist_reference.py; docs/waitlist.md); an accepted "earlier"
offer moves the visit, leaving the patient one visit, not two.

The world (tests/integration/waitlist_model_world.py) is built once per test; each example
takes a twelve-hour block of time of its own and fresh patients, so examples cannot see each
other.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from commands.booking import BookingCreate
from commands.consents import ConsentGrant
from commands.context import Actor
from commands.offer_rules import offer_holder
from commands.waitlist_models import OfferAcceptance, PriorityChange, WaitlistJoin
from domain.access import Role
from domain.agendas import UpcomingVisitLimitError
from domain.appointments import AppointmentStatus
from domain.consent import POLICIES, ConsentRequiredError, Purpose
from domain.openings import Opening
from domain.waitlist import InvalidWaitlistEntryError, OfferNotOpenError, WaitlistEntry
from infra.wiring.container import Container
from tests.builders import slot_at
from tests.e2e.waitlist_flow import matching
from tests.integration.waitlist_model_world import (
    BLOCK,
    EARLIER,
    FREEABLE,
    JOIN,
    KINDS,
    PATIENTS,
    Earlier,
    Join,
    World,
    build_world,
)
from tests.integration.waitlist_reference import Reference, Time, Waiting

PASS = timedelta(seconds=31)  # between matcher passes: a freed time found nobody rests 30 s
LATER = timedelta(minutes=16)  # longer than an offer lasts
# Shrinking would take minutes of real servers and a fresh block of time per try: a failure
# is reported as generated (at most 40 steps).
NO_SHRINK = [Phase.explicit, Phase.generate]
SETTINGS = settings(max_examples=40, stateful_step_count=40, deadline=None, phases=NO_SHRINK,
                    derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _as(patient_id: UUID) -> Actor:
    return Actor(subject=str(patient_id), role=Role.patient)


class WaitlistModel(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.w, self.uc, self.app = world, world.container.use_cases, world.container.app
        self.start = world.next_block()
        world.offers.clock.ahead = timedelta()
        self.model = Reference()
        both = (Purpose.treatment, Purpose.telehealth)
        self.patients = [world.driver.ready_patient(
            "Wait", f"P{n}", f"p{n}-{uuid4().hex[:10]}@example.org",
            both if n < PATIENTS - 1 else (Purpose.treatment,)) for n in range(PATIENTS)]
        self.model.consents = {p: {"treatment", "telehealth"} for p in self.patients[:-1]}
        self.model.consents[self.patients[-1]] = {"treatment"}
        self.canceller = world.driver.ready_patient("Can", "Celler",
                                                    f"c-{uuid4().hex[:10]}@example.org", both)
        self.times = [self._time(hour) for hour in range(12)]
        self.used: set[UUID] = set()  # slots freed or booked in this example
        self.booked: dict[UUID, UUID] = {}  # slot -> the appointment booked on it
        self.visits: Counter[UUID] = Counter()  # patient -> upcoming visits
        self.limit = world.container.policy.max_upcoming_visits

    def _time(self, hour: int) -> Time:
        doctor, clinic, service = KINDS[hour % len(KINDS)]
        slot = slot_at(self.w.driver, self.w.doctors[doctor], self.w.clinics[clinic],
                       self.w.services[service], self.start + timedelta(hours=hour))
        return Time(slot.slot_id, slot.provider_id, slot.clinic_id, slot.service_id,
                    slot.start, slot.end, service == "video")

    # -- rules ---------------------------------------------------------------------------
    @initialize(joins=st.lists(JOIN, min_size=3, max_size=7),
                earlier=st.lists(EARLIER, min_size=1, max_size=3),
                freed=st.lists(st.integers(0, FREEABLE - 1), min_size=1, max_size=3),
                withdrawn=st.lists(st.integers(0, PATIENTS - 1), max_size=1))
    def waiting(self, joins: list[Join], earlier: list[Earlier], freed: list[int],
                withdrawn: list[int]) -> None:
        """A few patients wait (one may withdraw consent to treatment after joining), and
        some time is freed, before anything else happens."""
        for sooner in earlier:
            self.join_earlier(sooner)
        for join in joins:
            self.join(join)
        for patient in withdrawn:
            self.consent(patient, Purpose.treatment)
        for hour in freed:
            self.free(hour)
        self.step(False)

    @rule(join=JOIN)
    def join(self, join: Join) -> None:
        not_before = None if join.after is None else self.start + timedelta(hours=join.after)
        command = WaitlistJoin(
            service_id=self.w.services[join.service],
            clinic_ids=[self.w.clinics[c] for c in join.clinics],
            provider_id=None if join.doctor is None else self.w.doctors[join.doctor],
            not_before=not_before, not_after=self.start + timedelta(hours=join.until))
        now, actor = datetime.now(UTC), _as(self.patients[join.patient])
        video = join.service == "video"
        needed = {"treatment", "telehealth"} if video else {"treatment"}
        refusal: type[Exception] | None = None
        if not needed <= self.model.consents[self.patients[join.patient]]:
            refusal = ConsentRequiredError  # joining needs what booking needs
        elif not_before is not None and not_before >= command.not_after:
            refusal = InvalidWaitlistEntryError  # a window that ends as it starts
        elif video and join.doctor in (1, 2):
            refusal = InvalidWaitlistEntryError  # only Dr One sees patients by video
        if refusal is not None:
            with pytest.raises(refusal):
                self.uc.waitlist.join(command, actor)
            return
        joined = self.uc.waitlist.join(command, actor).result
        entry = Waiting(joined.id, self.patients[join.patient], command.service_id,
                        frozenset(command.clinic_ids), command.provider_id, not_before or now,
                        command.not_after, self.model.next_join())
        self.model.join(entry)
        if join.priority:
            self._urgency(entry, join.priority)

    @rule(sooner=EARLIER)
    def join_earlier(self, sooner: Earlier) -> None:
        """Book a later visit, and wait for an earlier time instead of it."""
        kept = self.times[FREEABLE + sooner.kind]
        if kept.slot_id in self.used:
            return
        patient = self.patients[sooner.patient]
        actor = _as(patient)
        if not self.model.may_book(patient, kept):
            with pytest.raises(ConsentRequiredError):
                self.uc.bookings.book(BookingCreate(slot_id=kept.slot_id), actor)
            return
        visit = self.uc.bookings.book(BookingCreate(slot_id=kept.slot_id), actor).result
        self.used.add(kept.slot_id)
        self.booked[kept.slot_id] = visit.id
        self.visits[patient] += 1
        not_before = None if sooner.after is None else \
            self.start + timedelta(hours=sooner.after)
        now = datetime.now(UTC)
        joined = self.uc.waitlist.join(WaitlistJoin(
            service_id=kept.service, clinic_ids=[], not_before=not_before, instead_of=visit.id,
            not_after=self.start + BLOCK), actor).result
        self.model.join(Waiting(
            joined.id, patient, kept.service, frozenset({kept.clinic}), kept.provider,
            not_before or now, kept.start, self.model.next_join(), instead_of=visit.id))

    def _active(self) -> list[Waiting]:
        return [e for e in self.model.entries.values() if e.status in ("waiting", "offered")]

    def _offered(self) -> list[Waiting]:
        return [e for e in self.model.entries.values() if e.status == "offered"]

    @precondition(lambda self: self._active())
    @rule(data=st.data(), priority=st.integers(0, 3))
    def prioritise(self, data: st.DataObject, priority: int) -> None:
        self._urgency(data.draw(st.sampled_from(self._active())), priority)

    def _urgency(self, entry: Waiting, priority: int) -> None:
        self.uc.waitlist.prioritise(entry.entry_id, PriorityChange(priority=priority),
                                    Actor(subject="admin-1", role=Role.admin))
        entry.priority = priority

    @rule(hour=st.integers(0, FREEABLE - 1))
    def free(self, hour: int) -> None:
        """Someone books the time and cancels it: freed time."""
        time = self.times[hour]
        if time.slot_id in self.used:
            return
        actor = _as(self.canceller)
        booked = self.uc.bookings.book(BookingCreate(slot_id=time.slot_id), actor).result
        cancelled = self.uc.bookings.cancel(booked.id, "", actor)
        self.used.add(time.slot_id)
        self.model.free(Opening.create_id(booked.id, cancelled.version), time)

    @rule(later=st.booleans())
    def step(self, later: bool) -> None:
        """A matcher pass, after a pass's time, or after longer than an offer lasts."""
        passed = LATER if later else PASS
        self.w.offers.clock.ahead += passed
        self.model.minutes += passed.total_seconds() / 60
        lines = self._lines()
        expected = self.model.step()
        outcomes = self.w.offers.step()
        assert outcomes == dict(expected), (outcomes, dict(expected), lines)
        loaded = self._entries()
        for entry in self.model.entries.values():
            offer = loaded[entry.entry_id].offer
            if offer is not None:
                entry.last_offer = offer.offer_id
        self._read_model_agrees()

    @precondition(lambda self: self._offered())
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        """A patient takes the time offered to them."""
        entry = data.draw(st.sampled_from(self._offered()))
        actor = _as(entry.patient)
        assert entry.last_offer is not None
        acceptance = OfferAcceptance(offer_id=entry.last_offer)
        time = next(f.time for f in self.model.freed if f.opening_id == entry.offered_on)
        if not self.model.may_book(entry.patient, time):
            if entry.instead_of is None:  # consent withdrawn since the offer was made
                with pytest.raises(ConsentRequiredError):
                    self.uc.waitlist.accept(entry.entry_id, acceptance, actor)
            return  # (a move of a kept visit is not asked for consent again: not modelled)
        if entry.instead_of is None and self.visits[entry.patient] >= self.limit:
            with pytest.raises(UpcomingVisitLimitError):
                self.uc.waitlist.accept(entry.entry_id, acceptance, actor)
            return
        booking = self.uc.waitlist.accept(entry.entry_id, acceptance, actor).result
        freed = self.model.accepted(entry, booking.id)
        assert booking.slot_id == freed.time.slot_id and booking.status == "booked"
        self.booked[freed.time.slot_id] = booking.id
        if entry.instead_of is None:
            self.visits[entry.patient] += 1
            return
        # "earlier than my booking": the same visit, moved; its old time is freed
        assert booking.id == entry.instead_of, "an earlier time booked a second visit"
        kept = next(t for t in self.times if self.booked.get(t.slot_id) == booking.id
                    and t.slot_id != freed.time.slot_id)
        del self.booked[kept.slot_id]
        moved = self.app.get(WaitlistEntry, entry.entry_id, "entry")
        assert moved.appointment_id == booking.id
        self.model.free(Opening.create_id(booking.id, booking.version), kept)

    @precondition(lambda self: len(self._offered()) < len(self.model.entries))
    @rule(data=st.data())
    def accept_what_is_not_open(self, data: st.DataObject) -> None:
        """Accepting again answers the same booking; an offer lapsed or never made is
        refused."""
        entry = data.draw(st.sampled_from([e for e in self.model.entries.values()
                                            if e.status != "offered"]))
        actor = _as(entry.patient)
        if entry.status == "booked":
            assert entry.booked_offer is not None
            again = self.uc.waitlist.accept(entry.entry_id, OfferAcceptance(
                offer_id=entry.booked_offer), actor)
            assert again.replayed and again.result.id == entry.appointment
            return
        with pytest.raises(OfferNotOpenError):
            self.uc.waitlist.accept(entry.entry_id, OfferAcceptance(
                offer_id=entry.last_offer or uuid4()), actor)

    @rule(patient=st.integers(0, PATIENTS - 1),
          purpose=st.sampled_from([Purpose.treatment, Purpose.telehealth]))
    def consent(self, patient: int, purpose: Purpose) -> None:
        """The patient withdraws a consent they gave, or gives it (again)."""
        patient_id, consents = self.patients[patient], self.uc.consents
        if purpose.value in self.model.consents[patient_id]:
            consents.revoke(patient_id, purpose, _as(patient_id))
            self.model.consents[patient_id].discard(purpose.value)
        else:
            consents.grant(patient_id, ConsentGrant(
                purpose=purpose, policy_version=POLICIES[purpose].version), _as(patient_id))
            self.model.consents[patient_id].add(purpose.value)

    @precondition(lambda self: self._active())
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        self._leave(data.draw(st.sampled_from(self._active())))

    @precondition(lambda self: self._offered())
    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        """An offered patient leaves: the offer is declined and goes on."""
        self._leave(data.draw(st.sampled_from(self._offered())))

    def _leave(self, entry: Waiting) -> None:
        left = self.uc.waitlist.leave(entry.entry_id, _as(entry.patient))
        assert left.status == "left"
        self.model.leave(entry)

    # -- what must always hold -------------------------------------------------------------
    @invariant()
    def one_open_offer_per_freed_time_to_the_first_in_line(self) -> None:
        loaded = self._entries()
        offered: dict[UUID, list[WaitlistEntry]] = {}
        for entry in self.model.entries.values():
            actual = loaded[entry.entry_id]
            assert actual.status.value == entry.status, (entry, actual.status)
            if actual.offer is not None:
                offered.setdefault(actual.offer.slot_id, []).append(actual)
        for freed in self.model.freed:
            holders = offered.pop(freed.time.slot_id, [])
            assert len(holders) <= 1, "a freed time was offered to two patients at once"
            for holder in holders:
                assert self.model.entries[holder.id].suits(freed.time), \
                    "offered to an entry whose constraints the time does not meet"
            assert [h.id for h in holders] == [e for e in [freed.offered_to] if e], \
                ("not offered to the first in line", self._lines())
            held = self.w.container.holds.holding(freed.time.slot_id)
            if holders:
                assert held is not None, "an open offer without its hold"
                assert held[0].holder == offer_holder(holders[0].patient_id)
                assert holders[0].offer is not None
                assert held[0].hold_id == holders[0].offer.hold_id
            elif freed.accepted_by is None:
                assert held is None, "a freed time held with no offer open"
        assert not offered, f"offers of time that was never freed: {offered}"

    def _read_model_agrees(self) -> None:
        """After a pass (the read models caught up): the entries' states; each time booked
        once at most, on the appointment the model expects; every patient's visits counted
        (an earlier time accepted moved the visit: one visit, not two)."""
        slots = [t.slot_id for t in self.times]
        with self.w.container.pool.connection() as conn:
            states: dict[UUID, str] = dict(conn.execute(
                "SELECT entry_id, status FROM waitlist_entries WHERE entry_id = ANY(%s)",
                (list(self.model.entries),)).fetchall())
            booked = conn.execute(
                "SELECT slot_id, appointment_id FROM appointments WHERE slot_id = ANY(%s) "
                "AND status = 'booked' ORDER BY slot_id", (slots,)).fetchall()
            visits: dict[UUID, int] = dict(conn.execute(
                "SELECT patient_id, count(*) FROM appointments WHERE patient_id = ANY(%s) "
                "AND status = 'booked' GROUP BY patient_id", (self.patients,)).fetchall())
        assert states == {e.entry_id: e.status for e in self.model.entries.values()}
        assert sorted(booked) == sorted(self.booked.items()), "a time booked twice, or lost"
        visits_now = self.app.get_many(*self.booked.values())
        for slot_id, appointment_id in self.booked.items():
            visit = visits_now[appointment_id]
            assert visit.slot_id == slot_id and visit.status is AppointmentStatus.booked
        assert visits == {p: n for p, n in self.visits.items() if n}
        for freed in self.model.freed:
            kinds = Counter(type(e).__name__ for e in self.app.events.get(freed.opening_id))
            assert kinds["Accepted"] == (freed.accepted_by is not None), kinds
            assert kinds["Offered"] == freed.offers, kinds
            assert kinds["Skipped"] == len(freed.skipped), kinds

    def _entries(self) -> dict[UUID, WaitlistEntry]:
        return self.app.get_many(*self.model.entries) if self.model.entries else {}

    def _lines(self) -> dict[str, Any]:
        return {str(f.time.slot_id): [(e.entry_id, e.priority, e.joined)
                                      for e in self.model.line(f)] for f in self.model.freed}

    def teardown(self) -> None:
        """This example's freed times are looked at no more (the next example's matcher
        passes step only its own)."""
        for freed in self.model.freed:
            self.w.offers.matcher.schedule.settle(freed.opening_id)


def test_offers_follow_the_reference_model_on_the_real_stores(
        container: Container, project: Any) -> None:
    with matching(container.settings, project) as offers:
        world = build_world(container, project, offers)

        class InThisWorld(WaitlistModel):
            def __init__(self) -> None:
                super().__init__(world)

        run_state_machine_as_test(InThisWorld, settings=SETTINGS)
