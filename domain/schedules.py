"""Schedule (FHIR Schedule): one provider's availability rules at one clinic."""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from domain.availability import AvailabilityRules
from domain.errors import ConflictError, RuleViolationError
from domain.intervals import Interval, subtracted
from domain.local_time import UtcRange, local_day, utc_ranges

SCHEDULE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:schedule")


class RulesConflictWithBookingsError(ConflictError):
    """New rules would leave booked visits outside working hours: reported, not applied."""

    code = "availability-conflicts-with-bookings"

    def __init__(self, conflicts: list[tuple[datetime, datetime]]) -> None:
        times = ", ".join(f"{s.isoformat()}..{e.isoformat()}" for s, e in conflicts[:10])
        super().__init__(f"{len(conflicts)} booked visit(s) fall outside the new hours: {times}")
        self.conflicts = conflicts


def outside_hours(rules: AvailabilityRules, zone: ZoneInfo,
                  booked: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The booked visits that the rules do not wholly cover."""
    uncovered = []
    for start, end in booked:
        days = {local_day(start, zone), local_day(end, zone)}
        ranges = [r for day in days for iv in rules.working_intervals(day)
                  for r in utc_ranges(day, iv, zone)]
        if not any(lo <= start and end <= hi for lo, hi in ranges):
            uncovered.append((start, end))
    return uncovered


def hours_removed(old: AvailabilityRules, new: AvailabilityRules, zone: ZoneInfo,
                  today: date, days: int) -> list[UtcRange]:
    """The times the old rules worked and the new ones do not, from yesterday (local) to
    `days` ahead: where a booking made under the old rules could land outside the new."""
    removed: list[UtcRange] = []
    for n in range(-1, days + 1):
        day = today + timedelta(days=n)
        for interval in subtracted(old.working_intervals(day), new.working_intervals(day)):
            removed.extend(utc_ranges(day, interval, zone))
    return removed


class OverlappingClinicHoursError(RuleViolationError):
    """One provider cannot see patients in person at two clinics at once."""

    code = "overlapping-clinic-hours"


def _worked(rules: AvailabilityRules, zone: ZoneInfo, now: datetime,
            days: int) -> list[tuple[datetime, datetime, date, Interval]]:
    today = local_day(now, zone)
    return [(lo, hi, day, interval)
            for day in (today + timedelta(days=n) for n in range(-1, days + 1))
            for interval in rules.working_intervals(day)
            for lo, hi in utc_ranges(day, interval, zone)]


def first_overlap(rules: AvailabilityRules, zone: ZoneInfo, other: AvailabilityRules,
                  other_zone: ZoneInfo, now: datetime, days: int) -> tuple[date, Interval] | None:
    """The first of `other`'s working times (its local day and hours) that `rules` also
    work, over the next `days` days; None if they never meet."""
    mine = sorted((lo, hi) for lo, hi, _, _ in _worked(rules, zone, now, days))
    starts = [lo for lo, _ in mine]
    latest_end = list(accumulate((hi for _, hi in mine), max))
    for lo, hi, day, interval in sorted(_worked(other, other_zone, now, days)):
        before = bisect_left(starts, hi)  # my ranges that start before this one ends
        if before and latest_end[before - 1] > lo:
            return day, interval
    return None


class Schedule(Aggregate):
    class Published(Aggregate.Created):
        provider_id: UUID
        clinic_id: UUID
        rules: dict[str, Any]

    class RulesChanged(Aggregate.Event):
        rules: dict[str, Any]

    @staticmethod
    def create_id(provider_id: UUID, clinic_id: UUID) -> UUID:
        return uuid5(SCHEDULE_NAMESPACE, f"{provider_id}/{clinic_id}")

    @event(Published)
    def __init__(self, provider_id: UUID, clinic_id: UUID, rules: dict[str, Any]) -> None:
        self.provider_id = provider_id
        self.clinic_id = clinic_id
        self.rules_data = rules

    @property
    def rules(self) -> AvailabilityRules:
        return AvailabilityRules.from_dict(self.rules_data)

    def change_rules(self, rules: AvailabilityRules, zone: ZoneInfo,
                     booked: list[tuple[datetime, datetime]]) -> None:
        conflicts = outside_hours(rules, zone, booked)
        if conflicts:
            raise RulesConflictWithBookingsError(conflicts)
        self._rules_changed(rules.as_dict())

    @event(RulesChanged)
    def _rules_changed(self, rules: dict[str, Any]) -> None:
        self.rules_data = rules
