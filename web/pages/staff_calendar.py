"""The front desk's and providers' day and week calendar per provider and clinic: booked,
open, held and blocked time.

Only public endpoints: the provider's day (GET /providers/{id}/schedule), open times
(GET /slots, which leaves out held ones), free times (GET /fhir/R4/Slot, which counts a held
time as free: the difference is what is held) and the published hours."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import ApiError
from web.app import render
from web.pages.common import trouble
from web.pages.staff_desk import (
    DONE_WORDS,
    Desk,
    here_of,
    load_desk,
    load_rules,
    patient_name,
)
from web.pages.staff_times import local_time, merged, minus, parse_day, time_off, worked

router = APIRouter(default_response_class=HTMLResponse)
EVERYONE = "all"  # the calendar of every provider at the clinic
STATUS_WORDS = {"booked": "Booked", "checked-in": "Checked in", "fulfilled": "Completed",
                "cancelled": "Cancelled", "noshow": "Did not come"}
SLOT_PAGES = 10


@dataclass
class Entry:
    """One stretch of a day: a booked visit, open, held or blocked time (clinic-local)."""

    kind: str  # booked | open | held | blocked
    start: datetime
    end: datetime
    visit: dict[str, Any] | None = None
    patient: str | None = None


@dataclass
class Day:
    day: date
    hours: list[tuple[str, str]] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for e in self.entries if e.kind == kind)


@dataclass
class Column:
    """One provider's days in the calendar, and who else could take their visits."""

    provider: dict[str, Any]
    has_hours: bool
    days: list[Day]
    others: list[dict[str, Any]]


@router.get("/staff/calendar", response_model=None)
async def calendar(request: Request, clinic: str | None = None, provider: str | None = None,
                   day: str | None = None, view: str = "day",
                   done: str | None = None) -> HTMLResponse | RedirectResponse:
    try:
        desk = await load_desk(request, clinic, provider)
        if isinstance(desk, RedirectResponse):
            return desk
        shown = parse_day(day) or desk.today
        if view == "week":
            shown = shown - timedelta(days=shown.weekday())
        everyone = provider == EVERYONE and len(desk.providers) > 1
        chosen = desk.providers if everyone else [desk.provider] if desk.provider else []
        columns = list(await asyncio.gather(*(
            _column(replace(desk, provider=p), shown, 7 if view == "week" else 1)
            for p in chosen)))
    except ApiError as problem:
        return trouble(request, problem, back="/staff", back_label="Staff sign-in")
    step = 7 if view == "week" else 1
    here = here_of(desk, shown, view)
    if everyone:
        here["provider"] = EVERYONE
    return render(request, "staff_calendar.html", desk=desk, view=view, day=shown,
                  columns=columns, everyone=everyone, done=DONE_WORDS.get(done or ""),
                  earlier=shown - timedelta(days=step), later=shown + timedelta(days=step),
                  status_words=STATUS_WORDS, here=here, current=view,
                  now=datetime.now(desk.zone))


async def _column(desk: Desk, first: date, days: int) -> Column:
    assert desk.provider is not None
    rules = await load_rules(desk)
    found = list(await asyncio.gather(*(_day(desk, rules, first + timedelta(days=n))
                                        for n in range(days))))
    return Column(desk.provider, rules is not None, found,
                  [p for p in desk.providers if p["id"] != desk.provider["id"]])


async def _day(desk: Desk, availability: dict[str, Any] | None, day: date) -> Day:
    assert desk.provider is not None
    rules = availability["rules"] if availability else None
    found = Day(day, hours=[(a, b) for a, b in worked(rules, day)] if rules else [])
    visits, (opened, free) = await asyncio.gather(
        desk.api.get(f"/providers/{desk.provider['id']}/schedule", day=day.isoformat()),
        _times(desk, availability, day))
    visits = [v for v in visits if v["clinic_id"] == desk.clinic["id"]]
    names = await asyncio.gather(*(patient_name(desk.api, v["patient_id"]) for v in visits))
    zone = desk.zone
    for visit, name in zip(visits, names, strict=True):
        found.entries.append(Entry("booked", local_time(visit["start"], zone),
                                   local_time(visit["end"], zone), visit, name))
    open_spans = merged([(local_time(s["start"], zone), local_time(s["end"], zone))
                         for s in opened])
    opened_ids = {s["id"] for s in opened}
    held_spans = merged([(local_time(s["start"], zone), local_time(s["end"], zone))
                          for s in free if s["id"] not in opened_ids])
    for start, end in held_spans:
        found.entries.append(Entry("held", start, end))
    for start, end in minus(open_spans, held_spans):
        found.entries.append(Entry("open", start, end))
    midnight = datetime.combine(day, time(0), zone)
    for lo, hi in time_off(rules, day) if rules else []:
        found.entries.append(Entry("blocked", midnight + timedelta(minutes=lo),
                                   midnight + timedelta(minutes=hi)))
    found.entries.sort(key=lambda e: (e.start, e.kind != "blocked"))
    return found


async def _times(desk: Desk, availability: dict[str, Any] | None,
                 day: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Open times (GET /slots: held ones left out) and free ones (FHIR Slot: held ones in)
    of the provider at the clinic on one clinic-local day."""
    if availability is None or desk.provider is None:
        return [], []
    start = datetime.combine(day, time(0), desk.zone)
    end = start + timedelta(days=1)
    opened: list[dict[str, Any]] = []
    cursor = None
    for _ in range(SLOT_PAGES):
        page = await desk.api.get("/slots", provider_id=desk.provider["id"],
                                  clinic_id=desk.clinic["id"], start_from=start.isoformat(),
                                  start_to=end.isoformat(), limit=200, cursor=cursor)
        opened += page["slots"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    free: list[dict[str, Any]] = []
    token = None
    for _ in range(SLOT_PAGES):
        found = await desk.api.call("GET", "/fhir/R4/Slot", params={
            "schedule": f"Schedule/{availability['schedule_id']}", "_count": 200,
            "start": [f"ge{day.isoformat()}", f"le{day.isoformat()}"],
            **({"_page_token": token} if token else {})})
        if isinstance(found, str):  # application/fhir+json
            found = json.loads(found)
        free += [e["resource"] for e in found.get("entry", [])]
        token = next((parse_qs(urlparse(link["url"]).query).get("_page_token", [None])[0]
                      for link in found.get("link", []) if link.get("relation") == "next"),
                     None)
        if not token:
            break
    return opened, free
