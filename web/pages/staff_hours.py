"""A provider's weekly hours and time off (GET/PUT /providers/{id}/availability/{clinic}),
with the booked visits a change would strand named in plain words."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import ApiError
from web.app import go, render
from web.pages.common import trouble
from web.pages.staff_desk import (
    DONE_WORDS,
    SETTLE,
    Desk,
    here_of,
    load_desk,
    load_rules,
    patient_name,
)
from web.pages.staff_times import WEEKDAYS, local_time, merged, parse_day, to_minutes
from web.session import checked_csrf
from web.words import plain

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
STRANDED = "availability-conflicts-with-bookings"
_INSTANT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})"
CONFLICT = re.compile(f"({_INSTANT})\\.\\.({_INSTANT})")
RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*(?:-|\u2013|to)\s*(\d{1,2}:\d{2})\s*$")


@router.get("/staff/hours", response_model=None)
async def hours(request: Request, clinic: str | None = None, provider: str | None = None,
                done: str | None = None) -> HTMLResponse | RedirectResponse:
    try:
        desk = await load_desk(request, clinic, provider)
        if isinstance(desk, RedirectResponse):
            return desk
        availability = await load_rules(desk) if desk.provider else None
    except ApiError as problem:
        return trouble(request, problem, back="/staff", back_label="Staff sign-in")
    return _hours_page(request, desk, availability, done=DONE_WORDS.get(done or ""))


def _hours_page(request: Request, desk: Desk, availability: dict[str, Any] | None,
                status: int = 200, **context: Any) -> HTMLResponse:
    rules = availability["rules"] if availability else None
    weekly = {d: ", ".join(f"{a}-{b}" for a, b in (rules or {}).get("weekly", {}).get(d, []))
              for d in WEEKDAYS}
    off = [e for e in (rules or {}).get("exceptions", []) if e["kind"] == "off"
           and date.fromisoformat(e["date"]) >= desk.today]
    editable = desk.person["role"] == "admin" or (
        desk.provider is not None and desk.person["subject"] == desk.provider["id"])
    return render(request, "staff_hours.html", status=status, desk=desk, rules=rules,
                  weekly=weekly, off=off, weekdays=WEEKDAYS, editable=editable,
                  here=here_of(desk, desk.today, "day"), **context)


@router.post("/staff/hours", dependencies=[Csrf], response_model=None)
async def save_hours(request: Request) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    text = {d: str(form.get(d, "")) for d in WEEKDAYS}

    def change(rules: dict[str, Any]) -> dict[str, Any] | str:
        weekly: dict[str, list[list[str]]] = {}
        for d in WEEKDAYS:
            ranges = _ranges(text[d])
            if ranges is None:
                return (f"Please write {d.capitalize()}'s hours like 09:00-12:00, "
                        "13:00-17:00 (or leave it empty for a day off).")
            weekly[d] = ranges
        return {**rules, "weekly": weekly}

    return await _change(request, form, change, "hours", entered=text)


@router.post("/staff/time-off", dependencies=[Csrf], response_model=None)
async def add_time_off(request: Request) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    on, start, end = (str(form.get(k, "")).strip() for k in ("date", "start", "end"))

    def change(rules: dict[str, Any]) -> dict[str, Any] | str:
        if parse_day(on) is None:
            return "Please give the date of the time off."
        if bool(start) != bool(end):
            return "Give both a start and an end time, or neither for the whole day."
        if start and _ranges(f"{start}-{end}") is None:
            return "The time off must end after it starts."
        exceptions = rules.get("exceptions", [])
        kept = [e for e in exceptions if not (e["date"] == on and e["kind"] == "off")]
        before = [e for e in exceptions if e["date"] == on and e["kind"] == "off"]
        whole = not start or any(not e["intervals"] for e in before)
        spans = [] if whole else merged(
            [(to_minutes(a), to_minutes(b)) for e in before for a, b in e["intervals"]]
            + [(to_minutes(start), to_minutes(end))])
        off = {"date": on, "kind": "off", "intervals": [] if whole else [
            [f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}"] for a, b in spans]}
        return {**rules, "exceptions": sorted([*kept, off], key=lambda e: e["date"])}

    return await _change(request, form, change, "time-off")


@router.post("/staff/time-off/remove", dependencies=[Csrf], response_model=None)
async def remove_time_off(request: Request) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    on = str(form.get("date", ""))

    def change(rules: dict[str, Any]) -> dict[str, Any] | str:
        return {**rules, "exceptions": [e for e in rules.get("exceptions", [])
                                        if not (e["date"] == on and e["kind"] == "off")]}

    return await _change(request, form, change, "time-off-removed")


async def _change(request: Request, form: Any, change: Any, done: str,
                  **context: Any) -> HTMLResponse | RedirectResponse:
    """Read the published hours, change them, publish them (PUT); a change that would strand
    booked visits is refused by the API, and the visits it names are shown."""
    try:
        desk = await load_desk(request, str(form.get("clinic", "")), str(form.get("provider", "")))
        if isinstance(desk, RedirectResponse):
            return desk
        if desk.provider is None:
            raise ApiError(404, "not-found", "")
        availability = await load_rules(desk)
    except ApiError as problem:
        return trouble(request, problem, back="/staff", back_label="Staff sign-in")
    current = availability["rules"] if availability else {"weekly": {}}
    changed = change(current)
    if isinstance(changed, str):
        return _hours_page(request, desk, availability, status=422, message=changed, **context)
    url = f"/providers/{desk.provider['id']}/availability/{desk.clinic['id']}"
    try:
        await desk.api.call("PUT", url, json=changed)
    except ApiError as problem:
        if problem.code == STRANDED:
            stranded = await _stranded(desk, problem.detail)
            return _hours_page(request, desk, availability, status=409, stranded=stranded,
                               **context)
        return _hours_page(request, desk, availability, status=problem.status,
                           message=plain(problem), **context)
    for _ in range(SETTLE):  # the page that follows reads its own write (decision 0066)
        shown = await load_rules(desk)
        if shown and all(shown["rules"].get(k) == changed[k] for k in ("weekly", "exceptions")
                         if k in changed):
            break
        await asyncio.sleep(0.1)
    return go("/staff/hours?" + urlencode({"clinic": desk.clinic["id"],
                                          "provider": desk.provider["id"], "done": done}))


async def _stranded(desk: Desk, detail: str) -> list[dict[str, Any]]:
    """The booked visits the refusal names (their times), with the service and the patient
    where the provider's day shows them."""
    assert desk.provider is not None
    times = [(local_time(a, desk.zone), local_time(b, desk.zone))
             for a, b in CONFLICT.findall(detail)]
    days: dict[date, list[dict[str, Any]]] = {}
    for start, _ in times:
        if start.date() not in days:
            try:
                days[start.date()] = await desk.api.get(
                    f"/providers/{desk.provider['id']}/schedule", day=start.date().isoformat())
            except ApiError:
                days[start.date()] = []
    named = []
    for start, end in times:
        visit = next((v for v in days[start.date()] if local_time(v["start"], desk.zone) == start),
                     None)
        patient = await patient_name(desk.api, visit["patient_id"]) if visit else None
        named.append({"start": start, "end": end, "visit": visit, "patient": patient})
    return named


def _ranges(text: str) -> list[list[str]] | None:
    """The text "09:00-12:00, 13:00-17:00" as the API's ranges; None when it cannot be read."""
    ranges = []
    for part in (p for p in text.split(",") if p.strip()):
        found = RANGE.match(part)
        if not found:
            return None
        start, end = (f"{int(t.split(':')[0]):02d}:{t.split(':')[1]}" for t in found.groups())
        if not to_minutes(start) < to_minutes(end) <= 24 * 60 or int(start[3:]) > 59:
            return None
        ranges.append([start, end])
    return ranges
