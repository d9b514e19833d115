"""The write side checks a slot against the provider's own rules and buffers (issue
"Hardening", items 4 and 6; decision 0037). The read model only finds slots: here its answer
is stale on purpose (a SlotInfo made before the rules changed, or one that never existed),
and the booking must refuse it all the same."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from commands.ports import SlotInfo
from domain.calendars import SlotTakenError
from domain.clinics import Address
from domain.consent import POLICIES, Purpose
from domain.modality import Modality
from domain.schedules import RulesConflictWithBookingsError
from domain.slots import SlotUnavailableError
from tests.builders import ALL_DAY, rules, slot_at
from tests.driver import ClinicDriver
from tests.fakes import between_read_and_save, in_memory_use_cases

ZONE = ZoneInfo("America/Regina")  # UTC-6 all year: local 18:00 is always UTC midnight
MORNING = {day: [["00:00", "12:00"]] for day in ALL_DAY}


class World:
    def __init__(self) -> None:
        self.app = app = ClinicDriver(in_memory_use_cases())
        self.clinic = app.register_clinic("C", Address("1 A St", "Town", "IL", "60601"),
                                          "America/Regina", [Modality.in_person])
        self.checkup = app.register_service("Checkup", 30, Modality.in_person)
        self.short = app.register_service("Short", 20, Modality.in_person)
        self.provider = app.register_provider("Dr", [self.clinic], [self.checkup, self.short])
        self.patient, _ = app.register_patient("P", "Q", datetime(1990, 1, 1).date(),
                                               "p@example.org", None)
        app.verify_patient_email(self.patient)
        app.grant_consent(self.patient, Purpose.treatment, POLICIES[Purpose.treatment].version,
                          "web")

    def hours(self, weekly: dict[str, list[list[str]]] = ALL_DAY, **options: Any) -> None:
        self.app.publish_availability(self.provider, self.clinic,
                                      rules(weekly, granularity_minutes=5, **options))

    def slot(self, days_ahead: int, hour: int, minute: int = 0,
             service: UUID | None = None) -> SlotInfo:
        day = datetime.now(ZONE).date() + timedelta(days=days_ahead)
        start = datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)
        return slot_at(self.app, self.provider, self.clinic, service or self.checkup, start)

    def book(self, slot: SlotInfo) -> UUID:
        return self.app.book(self.patient, slot, "", datetime.now(UTC)).id


@pytest.fixture
def world() -> Iterator[World]:
    built = World()
    yield built
    built.app.close()


def test_a_time_inside_the_minimum_notice_is_refused_whatever_the_read_model_says(
        world: World) -> None:
    world.hours(min_notice_minutes=24 * 60)
    soon = world.slot(0, 0)  # today; within a day's notice whatever the time now
    stale = replace(soon, start=soon.start + timedelta(days=1), end=soon.end + timedelta(days=1),
                    book_by=soon.start + timedelta(days=1))  # tomorrow 00:00, "bookable"
    with pytest.raises(SlotUnavailableError):
        world.book(stale)


def test_a_time_the_provider_just_removed_is_refused(world: World) -> None:
    world.hours()
    afternoon = world.slot(2, 15)  # offered, and found by search
    world.hours(MORNING)  # the rules change before the read model catches up
    with pytest.raises(SlotUnavailableError):
        world.book(afternoon)
    assert world.book(world.slot(2, 10))  # the morning is still offered


@pytest.mark.parametrize("case", ["off the grid", "beyond the horizon", "on a day off",
                                  "wrong length"])
def test_times_the_rules_never_offered_are_refused(world: World, case: str) -> None:
    day = datetime.now(ZONE).date() + timedelta(days=3)
    world.hours(horizon_days=10, exceptions=[{"date": day.isoformat(), "kind": "off"}])
    slot = {"off the grid": lambda: world.slot(2, 10, 7),
            "beyond the horizon": lambda: world.slot(12, 10),
            "on a day off": lambda: world.slot(3, 10),
            "wrong length": lambda: replace(world.slot(2, 10),
                                            end=world.slot(2, 10).end + timedelta(minutes=5)),
            }[case]()
    with pytest.raises(SlotUnavailableError):
        world.book(slot)


def test_a_buffer_after_a_visit_keeps_the_next_visit_of_another_service_away(
        world: World) -> None:
    world.hours(buffer_after_minutes=10)
    world.book(world.slot(2, 10, 0))  # 10:00-10:30, then 10 minutes kept free
    right_after = world.slot(2, 10, 30, service=world.short)  # 10:30-10:50
    with pytest.raises(SlotTakenError):
        world.book(right_after)
    assert world.book(world.slot(2, 11, 0, service=world.short))  # after the buffer


def test_a_buffer_before_a_visit_keeps_the_visit_before_it_away(world: World) -> None:
    # Slots start 15 minutes into the day; a checkup every 45 minutes, a short visit every 35.
    world.hours(buffer_before_minutes=15)
    world.book(world.slot(2, 11, 20, service=world.short))  # 11:20-11:40, from 11:05 kept
    assert world.book(world.slot(2, 10, 0))  # 10:00-10:30 (its own buffer from 09:45): fine
    with pytest.raises(SlotTakenError):  # a reschedule into the buffer is refused too
        world.app.reschedule(world.book(world.slot(2, 9, 15)), world.slot(2, 10, 45),
                             datetime.now(UTC))


def test_a_buffer_reaching_past_utc_midnight_meets_the_next_utc_days_first_visit(
        world: World) -> None:
    # Calendars are UTC days; the buffer is reserved in the next day's calendar too.
    world.hours(buffer_after_minutes=30)
    world.book(world.slot(2, 17, 30, service=world.short))  # 23:30-23:50 UTC, kept to 00:20
    with pytest.raises(SlotTakenError):
        world.book(world.slot(2, 18, 0))  # 00:00 UTC of the next day


def test_a_rule_change_saved_while_a_booking_decides_makes_the_booking_look_again(
        world: World) -> None:
    world.hours()
    afternoon = world.slot(2, 15)
    between_read_and_save(world.app.app, lambda ids: world.patient in ids,
                           lambda: world.hours(MORNING))
    with pytest.raises(SlotUnavailableError):
        world.book(afternoon)  # read the old hours; the change's calendar write beat it
    assert world.app.use_cases.directory.schedule(world.provider, world.clinic).rules == \
        rules(MORNING, granularity_minutes=5)


def test_a_booking_saved_while_a_rule_change_decides_makes_the_change_look_again(
        world: World) -> None:
    world.hours()
    afternoon = world.slot(2, 15)
    booked: list[UUID] = []
    between_read_and_save(world.app.app, lambda ids: len(ids) > 20,  # the change's read
                           lambda: booked.append(world.book(afternoon)))
    with pytest.raises(RulesConflictWithBookingsError):
        world.hours(MORNING)
    assert booked and world.app.appointment(booked[0]).status.value == "booked"
