"""Front desk and providers: sign in with a staff token (development; production signs in
through the OpenID Connect provider, decision 0040), a day and a week calendar per provider
and clinic (booked, open, held and blocked time), weekly hours and time off with the booked
visits a change would strand named in plain words, and the day-of actions on a visit.

Only public endpoints: the provider's day (GET /providers/{id}/schedule), open times
(GET /slots, which leaves out held ones), free times (GET /fhir/R4/Slot, which counts a held
time as free: the difference is what is held), the published hours and their time off
(GET/PUT /providers/{id}/availability/{clinic}), and the visit's own commands."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlparse
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go, render
from web.pages.common import me, trouble
from web.session import SESSION, bearer, checked_csrf, remember
from web.words import plain

Moment = TypeVar("Moment", int, datetime)
router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
STAFF = ("provider", "front_desk", "admin")
EVERYONE = "all"  # the calendar of every provider at the clinic
ELSEWHERE = {"compliance": "/compliance"}  # staff whose pages are not the calendar
AFTER_SIGN_IN = ("/compliance", "/ops")  # pages a sign-in may lead back to (no open redirect)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
STATUS_WORDS = {"booked": "Booked", "checked-in": "Checked in", "fulfilled": "Completed",
                "cancelled": "Cancelled", "noshow": "Did not come"}
DONE_WORDS = {"check-in": "Checked in.", "complete": "Marked as completed.",
              "no-show": "Marked as not come.", "cancel": "Cancelled for the patient.",
              "hand-off": "Handed off.", "hours": "Your weekly hours are saved.",
              "time-off": "Time off is saved.", "time-off-removed": "Time off is removed."}
AFTER = {"check-in": "checked-in", "complete": "fulfilled", "no-show": "noshow",
         "cancel": "cancelled"}
STEPS = ("check-in", "complete", "no-show", "cancel")
STRANDED = "availability-conflicts-with-bookings"
_INSTANT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})"
CONFLICT = re.compile(f"({_INSTANT})\\.\\.({_INSTANT})")
RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*(?:-|\u2013|to)\s*(\d{1,2}:\d{2})\s*$")
SLOT_PAGES = 10
SETTLE = 30  # tries, 0.1 s apart: until the read model shows a day-of action just taken


# Sign-in ----------------------------------------------------------------------------------
@router.get("/staff", response_model=None)
async def staff_home(request: Request, after: str = "") -> HTMLResponse | RedirectResponse:
    api = Api(request, bearer(request))
    person = await me(api, request)
    if person is not None and (person["role"] in STAFF or person["role"] in ELSEWHERE):
        return go(staff_start(person["role"], after))
    try:  # the clinic's identity provider, where one is configured (web/pages/staff_oidc.py)
        oidc = bool(await api.get("/auth/staff-sign-in"))
    except ApiError:
        oidc = False
    return render(request, "staff_sign_in.html", patient=person is not None, oidc=oidc,
                  after=after if after in AFTER_SIGN_IN else "")


@router.post("/staff/sign-in", dependencies=[Csrf], response_model=None)
async def staff_sign_in(request: Request, token: Annotated[str, Form()] = "",
                        after: Annotated[str, Form()] = ""
                        ) -> HTMLResponse | RedirectResponse:
    token = token.strip().removeprefix("Bearer ").strip()
    person = None
    if token:
        try:
            person = await Api(request, token).get("/me")
        except ApiError:
            person = None
    if person is None or not (person["role"] in STAFF or person["role"] in ELSEWHERE):
        return render(request, "staff_sign_in.html", status=400, patient=False,
                      after=after if after in AFTER_SIGN_IN else "",
                      message="That token did not sign you in as staff: it may have expired "
                              "or belong to another kind of account. Issue a new one and "
                              "paste it again.")
    response = go(staff_start(person["role"], after))
    remember(response, request, SESSION, token)
    return response


def staff_start(role: str, after: str) -> str:
    """Back to the staff page that asked for the sign-in, or the role's own start."""
    return after if after in AFTER_SIGN_IN else ELSEWHERE.get(role, "/staff/calendar")


# The calendar -----------------------------------------------------------------------------
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
class Desk:
    """Who is signed in, the clinics and providers they may pick, and the ones picked."""

    api: Api
    person: dict[str, Any]
    clinics: list[dict[str, Any]]
    providers: list[dict[str, Any]]
    clinic: dict[str, Any]
    provider: dict[str, Any] | None
    zone: ZoneInfo
    today: date


async def _desk(request: Request, clinic_id: str | None,
                provider_id: str | None) -> Desk | RedirectResponse:
    api = Api(request, bearer(request))
    person = await me(api, request)
    if person is None or person["role"] not in STAFF:
        return go("/staff")
    clinics = await api.get("/clinics")
    if person.get("clinics") is not None:
        clinics = [c for c in clinics if c["id"] in person["clinics"]]
    if not clinics:
        raise ApiError(403, "forbidden", "")
    clinic = next((c for c in clinics if c["id"] == clinic_id), clinics[0])
    providers = await api.get("/providers", clinic_id=clinic["id"])
    if person["role"] == "provider":  # a provider sees their own day only
        providers = [p for p in providers if p["id"] == person["subject"]]
    provider = next((p for p in providers if p["id"] == provider_id),
                    providers[0] if providers else None)
    zone = ZoneInfo(clinic["time_zone"])
    return Desk(api, person, clinics, providers, clinic, provider, zone,
                datetime.now(zone).date())


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
        desk = await _desk(request, clinic, provider)
        if isinstance(desk, RedirectResponse):
            return desk
        shown = _date(day) or desk.today
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
    here = _here(desk, shown, view)
    if everyone:
        here["provider"] = EVERYONE
    return render(request, "staff_calendar.html", desk=desk, view=view, day=shown,
                  columns=columns, everyone=everyone, done=DONE_WORDS.get(done or ""),
                  earlier=shown - timedelta(days=step), later=shown + timedelta(days=step),
                  status_words=STATUS_WORDS, here=here, current=view,
                  now=datetime.now(desk.zone))


async def _column(desk: Desk, first: date, days: int) -> Column:
    assert desk.provider is not None
    rules = await _rules(desk)
    found = list(await asyncio.gather(*(_day(desk, rules, first + timedelta(days=n))
                                        for n in range(days))))
    return Column(desk.provider, rules is not None, found,
                  [p for p in desk.providers if p["id"] != desk.provider["id"]])


async def _rules(desk: Desk) -> dict[str, Any] | None:
    assert desk.provider is not None
    try:
        found: dict[str, Any] = await desk.api.get(
            f"/providers/{desk.provider['id']}/availability/{desk.clinic['id']}")
    except ApiError as problem:
        if problem.status == 404:
            return None
        raise
    return found


async def _day(desk: Desk, availability: dict[str, Any] | None, day: date) -> Day:
    assert desk.provider is not None
    rules = availability["rules"] if availability else None
    found = Day(day, hours=[(a, b) for a, b in _worked(rules, day)] if rules else [])
    visits, (opened, free) = await asyncio.gather(
        desk.api.get(f"/providers/{desk.provider['id']}/schedule", day=day.isoformat()),
        _times(desk, availability, day))
    visits = [v for v in visits if v["clinic_id"] == desk.clinic["id"]]
    names = await asyncio.gather(*(_patient(desk.api, v["patient_id"]) for v in visits))
    zone = desk.zone
    for visit, name in zip(visits, names, strict=True):
        found.entries.append(Entry("booked", _at(visit["start"], zone), _at(visit["end"], zone),
                                   visit, name))
    open_spans = _merged([(_at(s["start"], zone), _at(s["end"], zone)) for s in opened])
    opened_ids = {s["id"] for s in opened}
    held_spans = _merged([(_at(s["start"], zone), _at(s["end"], zone))
                          for s in free if s["id"] not in opened_ids])
    for start, end in held_spans:
        found.entries.append(Entry("held", start, end))
    for start, end in _minus(open_spans, held_spans):
        found.entries.append(Entry("open", start, end))
    midnight = datetime.combine(day, time(0), zone)
    for lo, hi in _time_off(rules, day) if rules else []:
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


async def _patient(api: Api, patient_id: str) -> str | None:
    """The patient's name where the API gives it to this staff member; None otherwise."""
    try:
        found = await api.get(f"/patients/{patient_id}")
    except ApiError:
        return None
    return f"{found['given_name']} {found['family_name']}"


# Day-of actions on a visit ----------------------------------------------------------------
@router.post("/staff/visits/{appointment_id}/{step}", dependencies=[Csrf], response_model=None)
async def visit_step(request: Request, appointment_id: UUID, step: str,
                     clinic: Annotated[str, Form()] = "", provider: Annotated[str, Form()] = "",
                     day: Annotated[str, Form()] = "", view: Annotated[str, Form()] = "day",
                     to_provider: Annotated[str, Form()] = ""
                     ) -> HTMLResponse | RedirectResponse:
    back = "/staff/calendar?" + urlencode(
        {"clinic": clinic, "provider": provider, "day": day, "view": view})
    if step not in (*STEPS, "hand-off"):
        return trouble(request, ApiError(404, "not-found", ""), back=back,
                       back_label="Back to the calendar")
    api = Api(request, bearer(request))
    try:
        if step == "hand-off":
            await api.post(f"/bookings/{appointment_id}/hand-off", {"provider_id": to_provider})
        elif step == "cancel":
            await api.post(f"/bookings/{appointment_id}/cancel",
                           {"note": "cancelled by the front desk for the patient"})
        else:
            await api.post(f"/bookings/{appointment_id}/{step}")
        await _settled(api, appointment_id, step, to_provider)
    except ApiError as problem:
        return trouble(request, problem, back=back, back_label="Back to the calendar")
    return go(f"{back}&done={step}")


async def _settled(api: Api, appointment_id: UUID, step: str, to_provider: str) -> None:
    """Wait a moment until the read model shows the action (the calendar that follows reads
    its own write; decision 0066)."""
    for _ in range(SETTLE):
        found = await api.get(f"/bookings/{appointment_id}")
        if (found["status"] == AFTER.get(step) if step != "hand-off"
                else found["provider_id"] == to_provider):
            return
        await asyncio.sleep(0.1)


# Weekly hours and time off ---------------------------------------------------------------
@router.get("/staff/hours", response_model=None)
async def hours(request: Request, clinic: str | None = None, provider: str | None = None,
                done: str | None = None) -> HTMLResponse | RedirectResponse:
    try:
        desk = await _desk(request, clinic, provider)
        if isinstance(desk, RedirectResponse):
            return desk
        availability = await _rules(desk) if desk.provider else None
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
                  here=_here(desk, desk.today, "day"), **context)


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
        if _date(on) is None:
            return "Please give the date of the time off."
        if bool(start) != bool(end):
            return "Give both a start and an end time, or neither for the whole day."
        if start and _ranges(f"{start}-{end}") is None:
            return "The time off must end after it starts."
        exceptions = rules.get("exceptions", [])
        kept = [e for e in exceptions if not (e["date"] == on and e["kind"] == "off")]
        before = [e for e in exceptions if e["date"] == on and e["kind"] == "off"]
        whole = not start or any(not e["intervals"] for e in before)
        spans = [] if whole else _merged(
            [(_minutes(a), _minutes(b)) for e in before for a, b in e["intervals"]]
            + [(_minutes(start), _minutes(end))])
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
        desk = await _desk(request, str(form.get("clinic", "")), str(form.get("provider", "")))
        if isinstance(desk, RedirectResponse):
            return desk
        if desk.provider is None:
            raise ApiError(404, "not-found", "")
        availability = await _rules(desk)
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
        shown = await _rules(desk)
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
    times = [(_at(a, desk.zone), _at(b, desk.zone)) for a, b in CONFLICT.findall(detail)]
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
        visit = next((v for v in days[start.date()] if _at(v["start"], desk.zone) == start),
                     None)
        patient = await _patient(desk.api, visit["patient_id"]) if visit else None
        named.append({"start": start, "end": end, "visit": visit, "patient": patient})
    return named


# Helpers ---------------------------------------------------------------------------------
def _here(desk: Desk, day: date, view: str) -> dict[str, str]:
    return {"clinic": desk.clinic["id"], "provider": desk.provider["id"] if desk.provider
            else "", "day": day.isoformat(), "view": view}


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _at(moment: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(zone)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _ranges(text: str) -> list[list[str]] | None:
    """The text "09:00-12:00, 13:00-17:00" as the API's ranges; None when it cannot be read."""
    ranges = []
    for part in (p for p in text.split(",") if p.strip()):
        found = RANGE.match(part)
        if not found:
            return None
        start, end = (f"{int(t.split(':')[0]):02d}:{t.split(':')[1]}" for t in found.groups())
        if not _minutes(start) < _minutes(end) <= 24 * 60 or int(start[3:]) > 59:
            return None
        ranges.append([start, end])
    return ranges


def _time_off(rules: dict[str, Any], day: date) -> list[tuple[int, int]]:
    off = [(_minutes(a), _minutes(b)) for e in rules.get("exceptions", [])
           if e["date"] == day.isoformat() and e["kind"] == "off"
           for a, b in (e["intervals"] or [["00:00", "24:00"]])]
    return [(a, b) for a, b in _merged(off)]


def _worked(rules: dict[str, Any], day: date) -> list[tuple[str, str]]:
    """The day's working hours as the rules publish them (weekly, extra, minus time off)."""
    hours = [(_minutes(a), _minutes(b)) for a, b in
             rules.get("weekly", {}).get(WEEKDAYS[day.weekday()], [])]
    hours += [(_minutes(a), _minutes(b)) for e in rules.get("exceptions", [])
              if e["date"] == day.isoformat() and e["kind"] == "extra"
              for a, b in e["intervals"]]
    spans = [(a, b) for a, b in _merged(hours)]
    for lo, hi in _time_off(rules, day):
        spans = [piece for a, b in spans
                 for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[0] < piece[1]]
    return [(f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}") for a, b in spans]


def _merged(spans: list[tuple[Moment, Moment]]) -> list[tuple[Moment, Moment]]:
    """Overlapping or touching spans joined (minutes of a day, or instants)."""
    out: list[tuple[Moment, Moment]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _minus(spans: list[tuple[datetime, datetime]],
           holes: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    for lo, hi in holes:
        spans = [piece for a, b in spans
                 for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[0] < piece[1]]
    return spans
