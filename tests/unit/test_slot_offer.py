"""Slots offered per clinic-local hour (projections/slot_offer.py): the starts slot search
cuts, per service, counted by wall-clock hour across the clocks' changes."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.availability import AvailabilityRules
from projections.slot_offer import offered_per_hour
from projections.slot_search import OfferedService, ScheduleContext
from tests.builders import ALL_DAY

CHECKUP = OfferedService(UUID(int=1), 30, "in_person")  # starts every 30 minutes
CONSULT = OfferedService(UUID(int=2), 60, "in_person")  # every hour
VIDEO = OfferedService(UUID(int=3), 20, "telehealth")


def context(zone: str, services: list[OfferedService], weekly: object = ALL_DAY,
            **options: int) -> ScheduleContext:
    rules = AvailabilityRules.from_dict({"weekly": weekly, **options})
    return ScheduleContext(UUID(int=9), UUID(int=8), UUID(int=7), rules, zone, ["in_person"],
                           services)


def test_an_all_day_hour_offers_two_checkups_and_one_consult() -> None:
    counts = offered_per_hour(context("Europe/London", [CHECKUP, CONSULT]), [date(2027, 3, 27)])
    assert counts == {(date(2027, 3, 27), hour): 3 for hour in range(24)}


def test_the_skipped_hour_offers_nothing_and_the_repeated_hour_twice() -> None:
    spring = date(2027, 3, 14)  # New York: 02:00 EST is 03:00 EDT
    counts = offered_per_hour(context("America/New_York", [CHECKUP, CONSULT]), [spring])
    assert (spring, 2) not in counts and sum(counts.values()) == 23 * 3
    autumn = date(2027, 4, 4)  # Sydney: 03:00 AEDT is 02:00 AEST, 02:00-02:59 twice
    counts = offered_per_hour(context("Australia/Sydney", [CHECKUP, CONSULT]), [autumn])
    assert counts[(autumn, 2)] == 2 * 3 and sum(counts.values()) == 25 * 3


def test_a_service_in_a_modality_the_clinic_lacks_offers_nothing() -> None:
    assert offered_per_hour(context("Europe/London", [VIDEO]), [date(2027, 3, 27)]) == {}


def test_buffers_space_the_starts_as_search_does() -> None:
    # 30 minutes + 10 after, on a 15-minute grid: a start every 45 minutes from 09:00
    # (09:00, 09:45, 10:30, 11:15), the last ending 11:45 + 10 inside 09:00-12:00.
    morning = {"saturday": [["09:00", "12:00"]]}
    counts = offered_per_hour(context("Europe/London", [CHECKUP], morning,
                                      buffer_after_minutes=10), [date(2027, 3, 27)])
    assert counts == {(date(2027, 3, 27), 9): 2, (date(2027, 3, 27), 10): 1,
                      (date(2027, 3, 27), 11): 1}
