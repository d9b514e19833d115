"""Open minutes per provider, clinic and clinic-local day, from the published hours: the
capacity the analytics' utilization is measured against.

Decided from events only, so a rebuild gives the same rows: a publication (or rules change)
sets the days it opens, from the clinic-local day it was recorded on to its booking horizon;
the first event of each new UTC day rolls every schedule's horizon forward with the rules it
has then. Days before a publication keep the minutes they had: the past is not rewritten by
a later change of hours. Minutes are exact UTC minutes, so a day the clocks spring forward
has one hour less (domain/local_time.py). The slots those hours offer per hour are set with
the same days (projections/slot_offer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.availability import AvailabilityRules
from domain.local_time import local_day, utc_ranges
from domain.schedules import Schedule
from projections.slot_offer import OfferWriter, apply_directory, offer_days


@dataclass(frozen=True)
class ScheduleState:
    schedule_id: UUID
    provider_id: UUID
    clinic_id: UUID
    rules: dict[str, Any]
    time_zone: str
    filled_through: date | None  # the last clinic-local day given its open minutes


class CapacityWriter(OfferWriter, Protocol):
    def time_zone(self, clinic_id: UUID) -> str | None: ...
    def schedule(self, schedule_id: UUID) -> ScheduleState | None: ...
    def save_schedule(self, state: ScheduleState) -> None: ...
    def open_minutes(self, state: ScheduleState, days: dict[date, int]) -> None:
        """Set the open minutes of these clinic-local days of the schedule."""

    def rolled_day(self) -> date | None:
        """The UTC day of the last roll of the horizons (None: never)."""

    def rolled(self, day: date) -> None: ...


def apply_capacity(writer: CapacityWriter, event: Any) -> None:
    """One event, in log order with the rest of the analytics (a publication needs its clinic's
    zone, registered by an earlier event)."""
    at: datetime = event.timestamp
    rolled = writer.rolled_day()
    if rolled is None or at.astimezone(UTC).date() > rolled:
        for state in writer.schedules():
            _fill(writer, state, AvailabilityRules.from_dict(state.rules), at)
        writer.rolled(at.astimezone(UTC).date())
    if isinstance(event, Schedule.Published | Schedule.RulesChanged):
        _published(writer, event, at)
    else:
        apply_directory(writer, event)


def open_minutes(rules: AvailabilityRules, day: date, zone: ZoneInfo) -> int:
    """The minutes worked on a clinic-local day, as UTC time (23 h the day clocks go forward)."""
    return sum(int((hi - lo).total_seconds() // 60)
               for interval in rules.working_intervals(day)
               for lo, hi in utc_ranges(day, interval, zone))


def _published(writer: CapacityWriter, event: Any, at: datetime) -> None:
    known = writer.schedule(event.originator_id)
    if isinstance(event, Schedule.Published):
        named = writer.time_zone(event.clinic_id)
        if named is None:
            return
        known = ScheduleState(event.originator_id, event.provider_id, event.clinic_id,
                              event.rules, named, None)
    elif known is None:
        return
    rules = AvailabilityRules.from_dict(event.rules)
    zone = ZoneInfo(known.time_zone)
    days = {day: open_minutes(rules, day, zone)
            for day in rules.bookable_days(local_day(at, zone))}
    writer.open_minutes(known, days)
    offer_days(writer, known, rules, list(days))
    last = max([*days, *([known.filled_through] if known.filled_through else [])])
    writer.save_schedule(ScheduleState(known.schedule_id, known.provider_id, known.clinic_id,
                                       event.rules, known.time_zone, last))


def _fill(writer: CapacityWriter, state: ScheduleState, rules: AvailabilityRules,
          at: datetime) -> None:
    """Open the days the horizon reached since the schedule was last filled."""
    zone = ZoneInfo(state.time_zone)
    today = local_day(at, zone)
    end = today + timedelta(days=rules.horizon_days - 1)
    first = today if state.filled_through is None else state.filled_through + timedelta(days=1)
    if first > end:
        return
    days = [first + timedelta(days=n) for n in range((end - first).days + 1)]
    writer.open_minutes(state, {day: open_minutes(rules, day, zone) for day in days})
    offer_days(writer, state, rules, days)
    writer.save_schedule(ScheduleState(state.schedule_id, state.provider_id, state.clinic_id,
                                       state.rules, state.time_zone, end))
