"""The patient's path: choose a visit and a day, see open times in the clinic's time, hold
one (with a countdown and "keep my time"), sign in or register with the email code, give
consent, book. Every step is a call to the public API (web/api.py)."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go, render
from web.pages.common import me, trouble
from web.pages.patient_account import consent_page
from web.session import (
    HOLD,
    SIGN_IN,
    bearer,
    checked_csrf,
    forget,
    held,
    remember,
)
from web.words import plain

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
LEEWAY = timedelta(hours=14)  # the widest offset from UTC: a local day inside [day-14h, +1d+14h]


@router.get("/", response_model=None)
async def start(request: Request) -> HTMLResponse:
    api = Api(request, bearer(request))
    services = await api.get("/services")
    return render(request, "start.html", services=services, today=date.today().isoformat())


@router.get("/times", response_model=None)
async def times(request: Request, service_id: UUID, day: date | None = None,
                modality: str = "", note: str = "", reschedule: UUID | None = None
                ) -> HTMLResponse:
    """Open times of one service on one clinic-local day, by clinic and provider."""
    api = Api(request, bearer(request))
    day = day or date.today()
    try:
        previous, following = _around(day)
        service = await api.get(f"/services/{service_id}")
        slots = await _day_slots(api, service_id, day)
    except ApiError as problem:
        return trouble(request, problem)
    places: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for slot in slots:
        places[(slot["clinic"]["name"], slot["provider"]["name"])].append(slot)
    return render(request, "times.html", service=service, day=day, places=places,
                  previous=previous.isoformat(), next=following.isoformat(),
                  reschedule=reschedule,
                  note=plain(ApiError(409, note, "")) if note else "")


@router.post("/hold", dependencies=[Csrf], response_model=None)
async def hold(request: Request, slot_id: Annotated[UUID, Form()],
               service_id: Annotated[UUID, Form()], day: Annotated[date, Form()],
               reschedule: Annotated[str, Form()] = "") -> RedirectResponse:
    api = Api(request, bearer(request))
    back = {"service_id": service_id, "day": day, **({"reschedule": reschedule}
                                                     if reschedule else {})}
    previous = held(request)
    try:
        if previous is not None:  # one held time at a time: the earlier one goes back
            await _release(api, previous)
        slot = await _slot(api, slot_id, service_id, day)  # before: search hides held times
        got = await api.post("/holds", {"slot_id": str(slot_id)})  # why it is gone, if it is
        if slot is None:  # held, yet not offered as that day's time: give it back
            await _release(api, {"slot_id": got["slot_id"], "hold_id": got["hold_id"],
                                 "secret": got["hold_secret"]})
            raise ApiError(409, "slot-unavailable", "")
    except ApiError as problem:
        return go(f"/times?{urlencode({**back, 'note': problem.code})}")
    response = go("/checkout")
    remember(response, request, HOLD, json.dumps({
        "slot_id": got["slot_id"], "hold_id": got["hold_id"], "secret": got["hold_secret"],
        "expires_at": got["expires_at"], "service_id": str(service_id), "day": day.isoformat(),
        "reschedule": reschedule, "slot": slot}))
    return response


@router.get("/checkout", response_model=None)
async def checkout(request: Request) -> HTMLResponse | RedirectResponse:
    current = held(request)
    if current is None:
        return go("/")
    api = Api(request, bearer(request))
    person = await me(api, request)
    return render(request, "checkout.html", hold=current, person=person,
                  expires_at=current["expires_at"],
                  signing_in=json.loads(request.cookies.get(SIGN_IN) or "null"))


@router.post("/checkout/keep", dependencies=[Csrf], response_model=None)
async def keep(request: Request) -> HTMLResponse | RedirectResponse:
    """"Keep my time": the hold's full time again (WCAG 2.2 SC 2.2.1)."""
    current = held(request)
    if current is None:
        return go("/")
    api = Api(request, bearer(request))
    try:
        kept = await api.post(f"/holds/{current['slot_id']}/{current['hold_id']}/extend",
                              None, **{"Hold-Secret": current["secret"]})
    except ApiError as problem:
        return _lost(request, current, problem)
    response = go("/checkout")
    remember(response, request, HOLD, json.dumps({**current, "expires_at": kept["expires_at"]}))
    return response


@router.post("/checkout/release", dependencies=[Csrf], response_model=None)
async def release(request: Request) -> RedirectResponse:
    current = held(request)
    if current is None:
        return go("/")
    response = go(_day_of(current))
    with contextlib.suppress(ApiError):  # lapsed already
        await _release(Api(request, bearer(request)), current)
    forget(response, HOLD)
    return response


@router.post("/book", dependencies=[Csrf], response_model=None)
async def book(request: Request, reason: Annotated[str, Form(max_length=500)] = ""
               ) -> HTMLResponse | RedirectResponse:
    current = held(request)
    if current is None:
        return go("/")
    api = Api(request, bearer(request))
    proof = {"slot_id": current["slot_id"], "hold_id": current["hold_id"],
             "hold_secret": current["secret"]}
    try:
        if current.get("reschedule"):
            visit = await api.post(f"/bookings/{current['reschedule']}/reschedule", proof)
        else:
            visit = await api.post("/bookings", {**proof, "reason": reason},
                                   **{"Idempotency-Key": f"web-{current['hold_id']}"})
    except ApiError as problem:
        if problem.code == "consent-required":
            return await consent_page(request, api, current)
        if problem.code in ("slot-taken", "slot-held", "hold-not-found", "slot-unavailable"):
            return _lost(request, current, problem)
        return render(request, "checkout.html", status=problem.status, hold=current,
                      person=await me(api, request), expires_at=current["expires_at"],
                      signing_in=None, message=plain(problem))
    response = go(f"/visits/{visit['id']}?v={visit['version']}")
    forget(response, HOLD)
    return response


# Helpers ------------------------------------------------------------------------------
def _lost(request: Request, current: dict[str, Any], problem: ApiError) -> RedirectResponse:
    """The held time is gone: back to the day's times, saying why in plain words."""
    response = go(_day_of(current, problem.code))
    forget(response, HOLD)
    return response


def _day_of(current: dict[str, Any], note: str = "") -> str:
    """The held time's day of times again (with why, as a stable code: no PHI in URLs)."""
    query = {"service_id": current["service_id"], "day": current["day"]}
    return f"/times?{urlencode({**query, 'note': note} if note else query)}"


async def _release(api: Api, current: dict[str, Any]) -> None:
    await api.call("DELETE", f"/holds/{current['slot_id']}/{current['hold_id']}",
                   headers={"Hold-Secret": current["secret"]})


def _around(day: date) -> tuple[date, date]:
    """The days before and after; the calendar's very ends have none (a day no clinic
    offers: the API's own refusal, in plain words)."""
    try:
        return day - timedelta(days=1), day + timedelta(days=1)
    except OverflowError:
        raise ApiError(422, "invalid-search", "") from None


async def _day_slots(api: Api, service_id: UUID, day: date) -> list[dict[str, Any]]:
    """Open times of the service that start on `day` on their clinic's clock."""
    try:
        midnight = datetime.combine(day, time(), UTC)
        start = max(midnight - LEEWAY, datetime.now(UTC))
        end = midnight + timedelta(days=1) + LEEWAY
    except OverflowError:
        raise ApiError(422, "invalid-search", "") from None
    page = await api.get("/slots", service_id=service_id, limit=200, start_from=_utc(start),
                         start_to=_utc(end))
    return [s for s in page["slots"] if s["clinic_local_start"][:10] == day.isoformat()]


def _utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _slot(api: Api, slot_id: UUID, service_id: UUID,
                day: date) -> dict[str, Any] | None:
    """What the checkout shows of the time to hold (ids, names, local time: no PHI); None
    if the day's search does not offer it (held or booked meanwhile)."""
    for slot in await _day_slots(api, service_id, day):
        if slot["id"] == str(slot_id):
            return {k: slot[k] for k in ("start", "end", "clinic_time_zone", "modality",
                                         "duration_minutes")} | {
                "clinic": slot["clinic"]["name"], "provider": slot["provider"]["name"],
                "service": slot["service"]["name"]}
    return None
