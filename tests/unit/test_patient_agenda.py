"""One patient, one place at a time, and a limit on hoarding (issue "Hardening", item 7):
PatientAgenda is saved with every booking, so even racing bookings with two providers
cannot overlap, and the front desk's booking beyond the limit is recorded as theirs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from commands.booking import BookingCreate
from commands.context import Actor
from commands.ports import SlotInfo
from commands.use_cases import Policy
from domain.access import Role
from domain.agendas import PatientAgenda, PatientBusyError, UpcomingVisitLimitError
from domain.clinics import Address
from domain.consent import POLICIES, Purpose
from domain.errors import ForbiddenError
from domain.modality import Modality
from infra.eventstore.mapper import event_meta
from tests.builders import ALL_DAY, rules, slot_at
from tests.driver import ClinicDriver
from tests.fakes import FakeSlots, between_read_and_save, in_memory_use_cases

ZONE = ZoneInfo("America/Chicago")
LIMIT = 3


class World:
    def __init__(self) -> None:
        self.app = app = ClinicDriver(in_memory_use_cases(
            policy=Policy(max_upcoming_visits=LIMIT)))
        clinic = app.register_clinic("C", Address("1 A St", "Town", "IL", "60601"),
                                     "America/Chicago", [Modality.in_person])
        self.clinic, self.service = clinic, app.register_service("Visit", 30, Modality.in_person)
        self.doctors = [app.register_provider(f"Dr {n}", [clinic], [self.service])
                        for n in range(2)]
        for doctor in self.doctors:
            app.publish_availability(doctor, clinic, rules(ALL_DAY))
        self.patient, _ = app.register_patient("P", "Q", datetime(1990, 1, 1).date(),
                                               "p@example.org", None)
        app.verify_patient_email(self.patient)
        app.grant_consent(self.patient, Purpose.treatment, POLICIES[Purpose.treatment].version,
                          "web")

    def slot(self, doctor: int, days_ahead: int, hour: int, minute: int = 0) -> SlotInfo:
        day = datetime.now(ZONE).date() + timedelta(days=days_ahead)
        start = datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)
        slot = slot_at(self.app, self.doctors[doctor], self.clinic, self.service, start)
        slots = self.app.use_cases.holding.slots
        assert isinstance(slots, FakeSlots)
        slots.offered[slot.slot_id] = slot  # as search would find it
        return slot

    def book(self, slot: SlotInfo) -> UUID:
        return self.app.book(self.patient, slot, "", datetime.now(UTC)).id


@pytest.fixture
def world() -> Iterator[World]:
    built = World()
    yield built
    built.app.close()


def test_a_patient_cannot_be_booked_with_two_providers_at_once(world: World) -> None:
    world.book(world.slot(0, 2, 10, 0))
    with pytest.raises(PatientBusyError):
        world.book(world.slot(1, 2, 10, 0))  # another provider, the same half hour
    assert world.book(world.slot(1, 2, 10, 30))  # right after: fine


def test_a_reschedule_onto_another_of_ones_own_visits_is_refused(world: World) -> None:
    first = world.book(world.slot(0, 2, 10, 0))
    world.book(world.slot(1, 2, 11, 0))
    with pytest.raises(PatientBusyError):
        world.app.reschedule(first, world.slot(0, 2, 11, 0), datetime.now(UTC))
    assert world.app.reschedule(first, world.slot(0, 2, 9, 0), datetime.now(UTC))


def test_racing_bookings_of_one_patient_with_two_providers_do_not_both_succeed(
        world: World) -> None:
    # The second booking reads and saves between the first one's read and its save.
    second: list[Any] = []
    between_read_and_save(world.app.app, lambda ids: world.patient in ids and not second,
                           lambda: second.append(world.book(world.slot(1, 2, 10, 0))))
    with pytest.raises(PatientBusyError):
        world.book(world.slot(0, 2, 10, 0))
    assert second  # the one that saved first stands


def test_upcoming_visits_are_limited_and_the_front_desk_may_exceed_the_limit_on_record(
        world: World) -> None:
    booked = [world.book(world.slot(0, 2, 9 + n)) for n in range(LIMIT)]
    with pytest.raises(UpcomingVisitLimitError):
        world.book(world.slot(0, 2, 15))
    patient = Actor(str(world.patient), Role.patient)
    with pytest.raises(ForbiddenError):
        world.app.use_cases.bookings.book(BookingCreate(
            slot_id=world.slot(0, 2, 15).slot_id, exceed_visit_limit=True), patient)

    desk = Actor("desk-7", Role.front_desk)
    beyond = world.app.use_cases.bookings.book(BookingCreate(
        slot_id=world.slot(0, 2, 15).slot_id, patient_id=world.patient,
        exceed_visit_limit=True), desk).result
    agenda_id = PatientAgenda.create_id(world.patient)
    last = world.app.recorder.select_events(agenda_id)[-1]
    event = world.app.mapper.to_domain_event(last)
    assert isinstance(event, PatientAgenda.Reserved) and event.over_limit
    assert event.appointment_id == beyond.id
    assert event_meta(event)["actor"] == "desk-7"

    world.app.cancel(booked[0], datetime.now(UTC))
    world.app.cancel(beyond.id, datetime.now(UTC))
    assert world.book(world.slot(0, 2, 16))  # a cancelled visit no longer counts
