"""How visit emails say when, where and with whom, in the clinic's local time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from projections.notifications.emails import VisitSummary


def visit_details(visit: VisitSummary, *, join: bool = True) -> str:
    """The when / where / with / visit block; the join link only for a live telehealth
    visit (`join=False` for a cancelled one)."""
    where = (f"Video visit ({visit.clinic_name})" if visit.telehealth else visit.clinic_name)
    lines = [f"When:  {local_when(visit.start, visit.end, visit.timezone)}",
             f"Where: {where}",
             f"With:  {visit.provider_name}",
             f"Visit: {visit.service_name}"]
    if join and visit.telehealth:
        lines.append("")
        if visit.join_url:
            lines += [f"Join your video visit: {visit.join_url}",
                      "This link is yours alone: please do not share it."]
        else:
            lines.append("Sign in to your clinic account to find the link to join.")
    return "\n".join(lines)


def local_when(start: datetime, end: datetime, timezone: str) -> str:
    """E.g. "Tuesday 3 November 2026, 9:00 AM to 9:30 AM EST (clinic time, America/New_York)".
    The abbreviation comes from the zone's rules at that instant, so it follows DST."""
    zone = ZoneInfo(timezone)
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.tzname() == last.tzname():  # the usual case: one abbreviation at the end
        begin = f"{_day(first)}, {_clock(first)}"
    else:  # the visit spans a DST change: 1:30 AM EDT to 1:30 AM EST
        begin = f"{_day(first)}, {_clock(first)} {first.tzname()}"
    until = _clock(last) if first.date() == last.date() else f"{_day(last)}, {_clock(last)}"
    span = f"{begin} to {until} {last.tzname()}"
    return f"{span} (clinic time, {timezone})"


def offset_phrase(minutes: int) -> str:
    """1440 -> "in 24 hours", 90 -> "in 1 hour 30 minutes", 2880 -> "in 2 days"."""
    if minutes < 0:
        raise ValueError("a reminder comes before the visit")
    if minutes == 0:
        return "now"
    if minutes >= 2 * 1440 and minutes % 1440 == 0:
        return f"in {minutes // 1440} days"
    hours, rest = divmod(minutes, 60)
    parts = [_count(hours, "hour")] if hours else []
    if rest:
        parts.append(_count(rest, "minute"))
    return "in " + " ".join(parts)


def _count(value: int, unit: str) -> str:
    return f"{value} {unit}{'' if value == 1 else 's'}"


def _day(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _clock(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"
