"""Slots from arbitrary rules: inside worked hours, never in time off, never overlapping,
and right across daylight-saving changes."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.availability import AvailabilityRules, DateException, ExceptionKind
from domain.intervals import Interval
from domain.local_time import utc_ranges, wall_time
from domain.slots import SlotTime, slot_times

ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London"]
# Weeks that hold the 2026 spring and autumn clock changes of every zone above.
DST_WEEKS = [date(2026, 3, 7), date(2026, 3, 28), date(2026, 10, 24), date(2026, 10, 31)]


@st.composite
def intervals(draw: st.DrawFn, max_count: int = 3) -> tuple[Interval, ...]:
    count = draw(st.integers(0, max_count))
    result = []
    for _ in range(count):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, 1440))
        result.append(Interval(start, end))
    return tuple(result)


@st.composite
def rules(draw: st.DrawFn, first_day: date) -> AvailabilityRules:
    weekly = tuple(draw(intervals()) for _ in range(7))
    exceptions = []
    for offset in draw(st.lists(st.integers(0, 13), max_size=4)):
        kind = draw(st.sampled_from(ExceptionKind))
        ivs = draw(intervals(2))
        if kind is ExceptionKind.extra and not ivs:
            ivs = (Interval(600, 660),)
        exceptions.append(DateException(first_day + timedelta(days=offset), kind, ivs))
    return AvailabilityRules(
        weekly=weekly,
        exceptions=tuple(exceptions),
        granularity_minutes=draw(st.sampled_from([5, 10, 15, 20, 30, 60])),
        buffer_before_minutes=draw(st.sampled_from([0, 0, 5, 10])),
        buffer_after_minutes=draw(st.sampled_from([0, 0, 5, 15])),
    )


def _inside(rules_: AvailabilityRules, zone: ZoneInfo, instant: datetime) -> bool:
    wall = wall_time(instant, zone)
    minute = wall.hour * 60 + wall.minute
    return any(iv.start <= minute < iv.end for iv in rules_.working_intervals(wall.date()))


def _in_time_off(rules_: AvailabilityRules, zone: ZoneInfo, instant: datetime) -> bool:
    wall = wall_time(instant, zone)
    minute = wall.hour * 60 + wall.minute
    return any(iv.start <= minute < iv.end for iv in rules_.time_off(wall.date()))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), zone_name=st.sampled_from(ZONES), first_day=st.sampled_from(DST_WEEKS),
       duration=st.sampled_from([10, 15, 20, 30, 45, 60, 90]))
def test_slots_stay_inside_worked_hours_and_never_overlap(
    data: st.DataObject, zone_name: str, first_day: date, duration: int
) -> None:
    zone = ZoneInfo(zone_name)
    rules_ = data.draw(rules(first_day))
    days = [first_day + timedelta(days=n) for n in range(14)]
    slots = list(slot_times(rules_, zone, duration, days))

    assert slots == sorted(slots)
    for earlier, later in itertools.pairwise(slots):
        assert earlier.end <= later.start, "slots of one provider and service overlap"
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=duration)
        # Every minute of the visit, buffers included, is worked time and not time off.
        lo = slot.start - timedelta(minutes=rules_.buffer_before_minutes)
        hi = slot.end + timedelta(minutes=rules_.buffer_after_minutes)
        instant = lo
        while instant < hi:
            assert _inside(rules_, zone, instant), (slot, wall_time(instant, zone))
            assert not _in_time_off(rules_, zone, instant), (slot, wall_time(instant, zone))
            instant += timedelta(minutes=5)


@settings(max_examples=100, deadline=None)
@given(zone_name=st.sampled_from(ZONES), first_day=st.sampled_from(DST_WEEKS),
       data=st.data())
def test_wall_ranges_become_exactly_the_instants_with_those_wall_times(
    zone_name: str, first_day: date, data: st.DataObject
) -> None:
    zone = ZoneInfo(zone_name)
    day = first_day + timedelta(days=data.draw(st.integers(0, 7)))
    start = data.draw(st.integers(0, 1439))
    iv = Interval(start, data.draw(st.integers(start + 1, 1440)))
    ranges = utc_ranges(day, iv, zone)
    # Walk the whole local day minute by minute (in UTC) and compare membership.
    instant = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=15)
    end = instant + timedelta(hours=54)
    while instant < end:
        wall = wall_time(instant, zone)
        minute = wall.hour * 60 + wall.minute
        expected = (wall.date() == day and iv.start <= minute < iv.end) or (
            iv.end == 1440 and wall.date() == day and minute >= iv.start)
        actual = any(lo <= instant < hi for lo, hi in ranges)
        assert actual == expected, (wall, ranges)
        instant += timedelta(minutes=15)


FULL_DAY = AvailabilityRules(weekly=tuple((Interval(0, 1440),) for _ in range(7)),
                             granularity_minutes=60)


@pytest.mark.parametrize(("zone_name", "spring", "autumn"), [
    ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
    ("America/Chicago", date(2026, 3, 8), date(2026, 11, 1)),
    ("America/Los_Angeles", date(2026, 3, 8), date(2026, 11, 1)),
    ("Europe/London", date(2026, 3, 29), date(2026, 10, 25)),
])
def test_clock_change_days_have_23_and_25_hours_of_slots(
    zone_name: str, spring: date, autumn: date
) -> None:
    zone = ZoneInfo(zone_name)
    short = list(slot_times(FULL_DAY, zone, 60, [spring]))
    long = list(slot_times(FULL_DAY, zone, 60, [autumn]))
    assert len(short) == 23 and len(long) == 25
    for day_slots in (short, long):
        starts = [s.start for s in day_slots]
        assert len(set(starts)) == len(starts), "a duplicated hour"
        assert all(b.start - a.start == timedelta(hours=1)
                   for a, b in itertools.pairwise(day_slots)), "a skipped hour"


def test_nine_to_five_is_nine_to_five_local_on_both_sides_of_the_change() -> None:
    zone = ZoneInfo("America/New_York")
    rules_ = AvailabilityRules(weekly=tuple((Interval(540, 1020),) for _ in range(7)),
                               granularity_minutes=30)
    days = [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    by_day: dict[date, list[SlotTime]] = {}
    for slot in slot_times(rules_, zone, 30, days):
        by_day.setdefault(wall_time(slot.start, zone).date(), []).append(slot)
    for day in days:
        assert wall_time(by_day[day][0].start, zone).hour == 9
        assert wall_time(by_day[day][-1].end, zone).hour == 17
        assert len(by_day[day]) == 16
    assert by_day[date(2026, 3, 7)][0].start.hour == 14  # EST: UTC-5
    assert by_day[date(2026, 3, 9)][0].start.hour == 13  # EDT: UTC-4


def test_buffers_and_granularity_space_the_slots() -> None:
    rules_ = AvailabilityRules(weekly=tuple((Interval(540, 660),) for _ in range(7)),
                               granularity_minutes=15, buffer_after_minutes=10)
    slots = list(slot_times(rules_, ZoneInfo("America/Chicago"), 20, [date(2026, 6, 1)]))
    walls = [wall_time(s.start, ZoneInfo("America/Chicago")).strftime("%H:%M") for s in slots]
    assert walls == ["09:00", "09:30", "10:00", "10:30"]


def test_whole_day_off_and_partial_time_off() -> None:
    rules_ = AvailabilityRules(
        weekly=tuple((Interval(540, 720),) for _ in range(7)), granularity_minutes=60,
        exceptions=(DateException(date(2026, 6, 1), ExceptionKind.off),
                    DateException(date(2026, 6, 2), ExceptionKind.off, (Interval(600, 660),)),
                    DateException(date(2026, 6, 3), ExceptionKind.extra, (Interval(780, 840),))),
    )
    zone = ZoneInfo("America/Los_Angeles")
    hours = {d: [wall_time(s.start, zone).hour for s in slot_times(rules_, zone, 60, [d])]
             for d in (date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3))}
    assert hours == {date(2026, 6, 1): [], date(2026, 6, 2): [9, 11],
                     date(2026, 6, 3): [9, 10, 11, 13]}
