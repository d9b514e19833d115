"""Availability rules: when a provider sees patients at one clinic, in clinic-local time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from domain.errors import RuleViolationError
from domain.intervals import Interval, InvalidIntervalError, merged, subtracted

MAX_BUFFER_MINUTES = 120
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class InvalidRulesError(RuleViolationError):
    code = "invalid-availability"


class ExceptionKind(StrEnum):
    off = "off"  # time off or holiday: no visits (the whole day when no intervals are given)
    extra = "extra"  # extra hours on top of the weekly pattern


@dataclass(frozen=True)
class DateException:
    on: date
    kind: ExceptionKind
    intervals: tuple[Interval, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is ExceptionKind.extra and not self.intervals:
            raise InvalidRulesError("extra hours on a date need at least one time range")


@dataclass(frozen=True)
class AvailabilityRules:
    """Weekly hours plus dated exceptions; how slots are cut and how far ahead they open."""

    weekly: tuple[tuple[Interval, ...], ...]  # seven entries, Monday first
    exceptions: tuple[DateException, ...] = ()
    granularity_minutes: int = 15
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    horizon_days: int = 30
    min_notice_minutes: int = 60
    _by_date: dict[date, list[DateException]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise InvalidRulesError("weekly hours need seven days, Monday first")
        _bounded("granularity_minutes", self.granularity_minutes, 5, 240)
        _bounded("buffer_before_minutes", self.buffer_before_minutes, 0, MAX_BUFFER_MINUTES)
        _bounded("buffer_after_minutes", self.buffer_after_minutes, 0, MAX_BUFFER_MINUTES)
        _bounded("horizon_days", self.horizon_days, 1, 365)
        _bounded("min_notice_minutes", self.min_notice_minutes, 0, 60 * 24 * 30)
        for ex in self.exceptions:
            self._by_date.setdefault(ex.on, []).append(ex)

    def working_intervals(self, day: date) -> tuple[Interval, ...]:
        """The local time ranges worked on `day`: weekly hours, plus extra, minus time off."""
        hours = list(self.weekly[day.weekday()])
        removed: list[Interval] = []
        for ex in self._by_date.get(day, ()):
            if ex.kind is ExceptionKind.extra:
                hours.extend(ex.intervals)
            elif ex.intervals:
                removed.extend(ex.intervals)
            else:
                return ()
        return subtracted(merged(hours), removed)

    def time_off(self, day: date) -> tuple[Interval, ...]:
        """Local time ranges explicitly off on `day` (the whole day when so marked)."""
        off: list[Interval] = []
        for ex in self._by_date.get(day, ()):
            if ex.kind is ExceptionKind.off:
                off.extend(ex.intervals or (Interval(0, 1440),))
        return merged(off)

    def step_minutes(self, duration_minutes: int) -> int:
        """Distance between slot starts: the visit plus buffers, rounded up to the grid."""
        span = duration_minutes + self.buffer_before_minutes + self.buffer_after_minutes
        return -(-span // self.granularity_minutes) * self.granularity_minutes

    def on_date(self, on: date, exception: DateException | None) -> AvailabilityRules:
        """These rules with `on`'s exception replaced (None: that date follows the week);
        the same rules when that is what `on` has already."""
        given = (exception,) if exception is not None else ()
        if tuple(ex for ex in self.exceptions if ex.on == on) == given:
            return self
        kept = tuple(ex for ex in self.exceptions if ex.on != on)
        return replace(self, exceptions=tuple(sorted(kept + given, key=lambda ex: ex.on)))

    def bookable_days(self, today: date) -> list[date]:
        return [today + timedelta(days=n) for n in range(self.horizon_days)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "weekly": {WEEKDAYS[i]: [iv.as_pair() for iv in day] for i, day in
                       enumerate(self.weekly)},
            "exceptions": [
                {"date": ex.on.isoformat(), "kind": ex.kind.value,
                 "intervals": [iv.as_pair() for iv in ex.intervals]}
                for ex in self.exceptions
            ],
            "granularity_minutes": self.granularity_minutes,
            "buffer_before_minutes": self.buffer_before_minutes,
            "buffer_after_minutes": self.buffer_after_minutes,
            "horizon_days": self.horizon_days,
            "min_notice_minutes": self.min_notice_minutes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AvailabilityRules:
        try:
            weekly_data = data.get("weekly", {})
            unknown = set(weekly_data) - set(WEEKDAYS)
            if unknown:
                raise InvalidRulesError("weekly hours name a day that is not a weekday "
                                        "(monday to sunday)")
            weekly = tuple(
                merged(Interval.parse(*pair) for pair in weekly_data.get(day, []))
                for day in WEEKDAYS
            )
            exceptions = tuple(
                DateException(
                    on=date.fromisoformat(ex["date"]),
                    kind=ExceptionKind(ex["kind"]),
                    intervals=merged(Interval.parse(*pair) for pair in ex.get("intervals", [])),
                )
                for ex in data.get("exceptions", [])
            )
            options = {k: int(data[k]) for k in (
                "granularity_minutes", "buffer_before_minutes", "buffer_after_minutes",
                "horizon_days", "min_notice_minutes") if k in data}
        except InvalidIntervalError as exc:
            raise InvalidRulesError(f"availability rules are not valid: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidRulesError):
                raise
            # Not str(exc): a date parser's message quotes the text it was given.
            raise InvalidRulesError("availability rules are not valid: an exception needs a "
                                    "date (YYYY-MM-DD), a kind and time ranges") from None
        return cls(weekly=weekly, exceptions=exceptions, **options)


def _bounded(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidRulesError(f"{name} must be between {low} and {high}")
