"""Clinic-local wall-clock time to UTC instants, exactly, across daylight-saving changes.

A wall-clock range on a day where the clocks change is not one UTC range: in the spring gap
some wall times never happen, and in the autumn overlap some happen twice. We compute the
exact set of UTC instants whose wall time falls in the range, as one or two UTC ranges.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.intervals import Interval

UtcRange = tuple[datetime, datetime]
_MARGIN = timedelta(hours=15)  # beyond any UTC offset


def wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of a UTC instant."""
    return instant.astimezone(zone).replace(tzinfo=None)


def utc_ranges(day: date, interval: Interval, zone: ZoneInfo) -> list[UtcRange]:
    """Every UTC instant whose wall time on `day` lies in [interval.start, interval.end)."""
    wall_start = datetime.combine(day, time()) + timedelta(minutes=interval.start)
    wall_end = datetime.combine(day, time()) + timedelta(minutes=interval.end)
    lo = datetime.combine(day, time(), UTC) - _MARGIN
    hi = datetime.combine(day, time(), UTC) + timedelta(days=1) + _MARGIN
    before, after = _offset(lo, zone), _offset(hi, zone)
    if before == after:
        return [(_as_utc(wall_start - before), _as_utc(wall_end - before))]
    change = _transition(lo, hi, zone)
    pieces = [
        (_as_utc(wall_start - before), min(_as_utc(wall_end - before), change)),
        (max(_as_utc(wall_start - after), change), _as_utc(wall_end - after)),
    ]
    pieces = [(s, e) for s, e in pieces if s < e]
    if len(pieces) == 2 and pieces[0][1] >= pieces[1][0]:
        return [(pieces[0][0], max(pieces[0][1], pieces[1][1]))]
    return pieces


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _as_utc(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


def _transition(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second with the new offset between lo and hi (one change only)."""
    first = _offset(lo, zone)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset(datetime.fromtimestamp(mid, UTC), zone) == first:
            lo_s = mid
        else:
            hi_s = mid
    return datetime.fromtimestamp(hi_s, UTC)
