from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.availability import AvailabilityRules, InvalidRulesError
from domain.intervals import Interval, InvalidIntervalError, merged, subtracted
from domain.schedules import RulesConflictWithBookingsError, Schedule, outside_hours

WEEKDAY_HOURS = {"monday": [["09:00", "12:00"], ["13:00", "17:00"]],
                 "tuesday": [["09:00", "17:00"]]}


def test_rules_round_trip_through_plain_data() -> None:
    rules = AvailabilityRules.from_dict({
        "weekly": WEEKDAY_HOURS,
        "exceptions": [{"date": "2026-12-25", "kind": "off"},
                       {"date": "2026-12-26", "kind": "extra", "intervals": [["10:00", "12:00"]]}],
        "granularity_minutes": 30, "min_notice_minutes": 120,
    })
    assert AvailabilityRules.from_dict(rules.as_dict()) == rules
    assert rules.working_intervals(date(2026, 12, 21)) == (Interval(540, 720), Interval(780, 1020))
    assert rules.working_intervals(date(2026, 12, 25)) == ()
    assert rules.working_intervals(date(2026, 12, 26)) == (Interval(600, 720),)


@pytest.mark.parametrize("bad", [
    {"weekly": {"monday": [["17:00", "09:00"]]}},
    {"weekly": {"monday": [["9am", "5pm"]]}},
    {"weekly": {"funday": [["09:00", "10:00"]]}},
    {"weekly": {}, "granularity_minutes": 1},
    {"weekly": {}, "horizon_days": 0},
    {"weekly": {}, "exceptions": [{"date": "2026-13-01", "kind": "off"}]},
    {"weekly": {}, "exceptions": [{"date": "2026-12-01", "kind": "extra"}]},
    {"weekly": {}, "exceptions": [{"date": "2026-12-01", "kind": "sometimes"}]},
])
def test_invalid_rules_are_refused_with_a_clear_error(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidRulesError):
        AvailabilityRules.from_dict(bad)


def test_interval_arithmetic() -> None:
    assert merged([Interval(60, 120), Interval(0, 60), Interval(200, 300), Interval(250, 400)]) \
        == (Interval(0, 120), Interval(200, 400))
    assert subtracted([Interval(0, 600)], [Interval(100, 200), Interval(500, 700)]) \
        == (Interval(0, 100), Interval(200, 500))
    with pytest.raises(InvalidIntervalError):
        Interval(10, 10)


def test_a_rule_change_that_would_strand_a_booking_is_refused() -> None:
    zone = ZoneInfo("America/New_York")
    old = AvailabilityRules.from_dict({"weekly": WEEKDAY_HOURS})
    schedule = Schedule(provider_id=_uuid(1), clinic_id=_uuid(2), rules=old.as_dict())
    booked = [(datetime(2026, 12, 21, 15, 0, tzinfo=UTC),
               datetime(2026, 12, 21, 15, 30, tzinfo=UTC))]
    assert outside_hours(old, zone, booked) == []
    shorter = AvailabilityRules.from_dict({"weekly": {"monday": [["13:00", "17:00"]]}})
    with pytest.raises(RulesConflictWithBookingsError) as caught:
        schedule.change_rules(shorter, zone, booked)
    assert caught.value.conflicts == booked
    assert schedule.rules == old  # nothing applied
    wider = AvailabilityRules.from_dict({"weekly": {"monday": [["08:00", "18:00"]]}})
    schedule.change_rules(wider, zone, booked)
    assert schedule.rules == wider


def _uuid(n: int):  # type: ignore[no-untyped-def]
    import uuid

    return uuid.UUID(int=n)
