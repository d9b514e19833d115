"""Follow-ups called as a door calls them, without FastAPI or a server: the visit's provider
(or the front desk) books the patient the first free time of the same provider, service and
clinic in the window, or puts them on the waitlist for it when none is free; the patient
cannot, and staff who do not reach the visit do not see it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from commands.booking import BookingCreate
from commands.context import Actor
from commands.follow_ups import FollowUpCreate
from commands.idempotency import IdempotencyKey
from commands.visits import BookingPublic
from domain.access import Role
from domain.errors import ForbiddenError, NotFoundError
from domain.record_access import HiddenRecordError
from tests.unit.test_use_cases import Clinic


@pytest.fixture
def world() -> Clinic:
    return Clinic()


def _visit(world: Clinic) -> tuple[Actor, BookingPublic]:
    ana = world.patient("ana@example.org")
    return ana, world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id),
                                       ana).result


def test_only_staff_who_reach_the_visit_ask_for_its_follow_up(world: Clinic) -> None:
    ana, visit = _visit(world)
    ask = FollowUpCreate(after_days=2)
    with pytest.raises(ForbiddenError):
        world.uc.follow_ups.follow_up(visit.id, ask, ana)
    with pytest.raises(HiddenRecordError):
        world.uc.follow_ups.follow_up(visit.id, ask, Actor(str(uuid.uuid4()), Role.provider))
    with pytest.raises(HiddenRecordError):  # front desk of another clinic
        world.uc.follow_ups.follow_up(visit.id, ask, Actor(
            "desk-2", Role.front_desk, clinics=frozenset({uuid.uuid4()})))
    with pytest.raises(NotFoundError):
        world.uc.follow_ups.follow_up(uuid.uuid4(), ask, Actor("desk-1", Role.front_desk))


def test_the_first_free_time_in_the_window_is_booked_once_per_key(world: Clinic) -> None:
    ana, visit = _visit(world)
    too_soon = world.offer(48 + 24)  # before the window: two to four days after the visit
    held, free, later = world.offer(48 + 50), world.offer(48 + 53), world.offer(48 + 60)
    assert too_soon.start < visit.start + timedelta(days=2) <= held.start < free.start
    world.uc.holding.holds.place(held.slot_id, "someone", "secret", 60_000, 3)
    doctor = Actor(str(world.provider), Role.provider)
    ask, key = FollowUpCreate(after_days=2, within_days=2), IdempotencyKey(doctor.subject, "f-1")

    first = world.uc.follow_ups.follow_up(visit.id, ask, doctor, key)
    booked = first.result.booking
    assert booked is not None and first.result.waitlist_entry is None
    assert (booked.start, booked.patient_id, booked.provider_id, booked.service_id,
            booked.clinic_id) == (free.start, visit.patient_id, world.provider,
                                  world.checkup, world.clinic)
    again = world.uc.follow_ups.follow_up(visit.id, ask, doctor, key)
    assert again.replayed and again.result == first.result

    desk = Actor("desk-1", Role.front_desk, clinics=frozenset({world.clinic}))
    second = world.uc.follow_ups.follow_up(visit.id, ask, desk).result.booking
    assert second is not None and second.start == later.start  # `free` is taken now
    assert str(visit.patient_id) == ana.subject


def test_with_no_free_time_in_the_window_the_patient_waits_for_one(world: Clinic) -> None:
    _, visit = _visit(world)
    world.offer(48 + 24)  # outside the window
    doctor = Actor(str(world.provider), Role.provider)
    waits = world.uc.follow_ups.follow_up(
        visit.id, FollowUpCreate(after_days=30, within_days=7), doctor).result
    entry = waits.waitlist_entry
    assert waits.booking is None and entry is not None and entry.status == "waiting"
    assert (entry.patient_id, entry.provider_id, entry.service_id, entry.clinic_ids) == (
        visit.patient_id, world.provider, world.checkup, [world.clinic])
    assert (entry.not_before, entry.not_after) == (visit.start + timedelta(days=30),
                                                   visit.start + timedelta(days=37))
