"""Open minutes of a clinic-local day (projections/capacity.py): real minutes, so the days the
clocks change are an hour shorter or longer; extra hours add, time off takes away."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from domain.availability import AvailabilityRules
from projections.capacity import open_minutes
from tests.builders import ALL_DAY

NEW_YORK, AUCKLAND = ZoneInfo("America/New_York"), ZoneInfo("Pacific/Auckland")
OVERNIGHT = {"saturday": [["00:00", "04:00"]], "sunday": [["00:00", "04:00"]]}


@pytest.mark.parametrize(("day", "zone", "minutes"), [
    (date(2027, 3, 13), NEW_YORK, 1440),
    (date(2027, 3, 14), NEW_YORK, 1380),  # spring forward at 02:00
    (date(2027, 11, 7), NEW_YORK, 1500),  # fall back at 02:00
    (date(2027, 4, 4), AUCKLAND, 1500),  # the southern autumn: back at 03:00
    (date(2027, 9, 26), AUCKLAND, 1380),
])
def test_an_all_day_schedule_opens_the_days_real_minutes(day: date, zone: ZoneInfo,
                                                          minutes: int) -> None:
    assert open_minutes(AvailabilityRules.from_dict({"weekly": ALL_DAY}), day, zone) == minutes


def test_the_hours_across_the_change_and_the_exceptions_count_as_lived() -> None:
    rules = AvailabilityRules.from_dict({"weekly": OVERNIGHT, "exceptions": [
        {"date": "2027-03-20", "kind": "off", "intervals": [["01:00", "02:00"]]},
        {"date": "2027-03-21", "kind": "extra", "intervals": [["10:00", "12:30"]]},
        {"date": "2027-03-27", "kind": "off"}]})
    assert open_minutes(rules, date(2027, 3, 13), NEW_YORK) == 240
    assert open_minutes(rules, date(2027, 3, 14), NEW_YORK) == 180  # 02:00-03:00 never was
    assert open_minutes(rules, date(2027, 3, 20), NEW_YORK) == 180
    assert open_minutes(rules, date(2027, 3, 21), NEW_YORK) == 240 + 150
    assert open_minutes(rules, date(2027, 3, 27), NEW_YORK) == 0
    assert open_minutes(rules, date(2027, 3, 15), NEW_YORK) == 0  # a Monday: no hours
