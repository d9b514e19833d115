"""The time arithmetic of the staff pages: clinic-local instants, minutes of a day, the
day's working hours and time off from the published rules, spans joined and cut."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

Moment = TypeVar("Moment", int, datetime)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def local_time(moment: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(zone)


def to_minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def time_off(rules: dict[str, Any], day: date) -> list[tuple[int, int]]:
    off = [(to_minutes(a), to_minutes(b)) for e in rules.get("exceptions", [])
           if e["date"] == day.isoformat() and e["kind"] == "off"
           for a, b in (e["intervals"] or [["00:00", "24:00"]])]
    return [(a, b) for a, b in merged(off)]


def worked(rules: dict[str, Any], day: date) -> list[tuple[str, str]]:
    """The day's working hours as the rules publish them (weekly, extra, minus time off)."""
    hours = [(to_minutes(a), to_minutes(b)) for a, b in
             rules.get("weekly", {}).get(WEEKDAYS[day.weekday()], [])]
    hours += [(to_minutes(a), to_minutes(b)) for e in rules.get("exceptions", [])
              if e["date"] == day.isoformat() and e["kind"] == "extra"
              for a, b in e["intervals"]]
    spans = [(a, b) for a, b in merged(hours)]
    for lo, hi in time_off(rules, day):
        spans = [piece for a, b in spans
                 for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[0] < piece[1]]
    return [(f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}") for a, b in spans]


def merged(spans: list[tuple[Moment, Moment]]) -> list[tuple[Moment, Moment]]:
    """Overlapping or touching spans joined (minutes of a day, or instants)."""
    out: list[tuple[Moment, Moment]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def minus(spans: list[tuple[datetime, datetime]],
          holes: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    for lo, hi in holes:
        spans = [piece for a, b in spans
                 for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[0] < piece[1]]
    return spans
