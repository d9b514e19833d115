"""Minute intervals within a local day, and the arithmetic availability rules need."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MINUTES_PER_DAY = 1440


class InvalidIntervalError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Interval:
    """[start, end) in minutes after local midnight; end may be 1440 (midnight after)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            # The message names the rule, never the times given: details never echo input.
            raise InvalidIntervalError("a time range must start before it ends, within one "
                                       "day (00:00-24:00)")

    @classmethod
    def parse(cls, start: str, end: str) -> Interval:
        return cls(minutes(start), minutes(end))

    def as_pair(self) -> list[str]:
        return [hhmm(self.start), hhmm(self.end)]


def minutes(text: str) -> int:
    """'09:30' -> 570; '24:00' is midnight at the end of the day."""
    try:
        hours, mins = text.split(":")
        value = int(hours) * 60 + int(mins)
    except ValueError:
        raise InvalidIntervalError("a time of day must be HH:MM") from None
    if len(mins) != 2 or not 0 <= int(mins) < 60 or not 0 <= value <= MINUTES_PER_DAY:
        raise InvalidIntervalError("a time of day must be HH:MM, 00:00 to 24:00")
    return value


def hhmm(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def merged(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, with overlapping and touching intervals joined."""
    result: list[Interval] = []
    for iv in sorted(intervals):
        if result and iv.start <= result[-1].end:
            last = result[-1]
            result[-1] = Interval(last.start, max(last.end, iv.end))
        else:
            result.append(iv)
    return tuple(result)


def subtracted(intervals: Iterable[Interval], removed: Iterable[Interval]) -> tuple[Interval, ...]:
    """What remains of `intervals` once every `removed` interval is cut out."""
    remaining = list(merged(intervals))
    for cut in merged(removed):
        pieces: list[Interval] = []
        for iv in remaining:
            if cut.end <= iv.start or iv.end <= cut.start:
                pieces.append(iv)
                continue
            if iv.start < cut.start:
                pieces.append(Interval(iv.start, cut.start))
            if cut.end < iv.end:
                pieces.append(Interval(cut.end, iv.end))
        remaining = pieces
    return tuple(remaining)
