"""The patient's visits: the list with waitlist offers, one visit (place or video link, add
to calendar, confirm, cancel with the cut-off explained, move), and the links in emails."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from icalendar import Calendar, Event

from web.api import Api, ApiError
from web.app import HEADERS, go, render
from web.pages.common import SignedIn, trouble
from web.session import bearer, checked_csrf

router = APIRouter(default_response_class=HTMLResponse)
READ_YOUR_WRITES = 30  # tries, 0.1 s apart: projection lag is milliseconds when healthy
Csrf = Depends(checked_csrf)


@router.get("/visits", response_model=None)
async def visits(request: Request, signed: SignedIn) -> HTMLResponse:
    api, person = signed.api, signed.person
    try:
        mine = await api.get(f"/patients/{person['subject']}/appointments")
        waiting = await api.get("/waitlist/entries")
    except ApiError as problem:
        return trouble(request, problem)
    now = datetime.now(UTC).isoformat()
    return render(request, "visits.html", joined=request.query_params.get("joined") == "1",
                  waiting=[e for e in waiting if e["status"] == "waiting"],
                  upcoming=[v for v in mine if v["status"] == "booked" and v["end"] > now],
                  past=[v for v in mine if not (v["status"] == "booked" and v["end"] > now)],
                  offers=[e for e in _items(waiting) if e.get("offer")])


@router.get("/visits/{appointment_id}", response_model=None)
async def visit(request: Request, appointment_id: UUID, signed: SignedIn,
                v: int = 1) -> HTMLResponse:
    """One visit; `v`: the version a command just answered (wait for the read model)."""
    api = signed.api
    try:
        found = await _fresh(api, appointment_id, v)
        clinic = await api.get(f"/clinics/{found['clinic_id']}")
    except ApiError as problem:
        return trouble(request, problem, back="/visits", back_label="Your visits")
    join = None
    if found["modality"] == "telehealth" and found["status"] == "booked":
        try:
            join = await api.get(f"/appointments/{appointment_id}/join-link")
        except ApiError:
            join = None
    return render(request, "visit.html", visit=found, clinic=clinic, join=join,
                  confirm_by=found.get("confirm_by"),
                  opens=join is not None and join["opens_at"] <= datetime.now(UTC).isoformat())


@router.post("/visits/{appointment_id}/cancel", dependencies=[Csrf], response_model=None)
async def cancel(request: Request, appointment_id: UUID) -> HTMLResponse | RedirectResponse:
    return await _step(request, appointment_id, "cancel")


@router.post("/visits/{appointment_id}/confirm", dependencies=[Csrf], response_model=None)
async def confirm(request: Request, appointment_id: UUID) -> HTMLResponse | RedirectResponse:
    return await _step(request, appointment_id, "confirm")


@router.get("/visits/{appointment_id}/calendar.ics", response_model=None)
async def calendar(request: Request, appointment_id: UUID) -> Response:
    """The visit as an iCalendar file: time and place, never the reason."""
    api = Api(request, bearer(request))
    try:
        found = await api.get(f"/bookings/{appointment_id}")
        clinic = await api.get(f"/clinics/{found['clinic_id']}")
    except ApiError as problem:
        return trouble(request, problem, back="/visits", back_label="Your visits")
    cal = Calendar()
    cal.add("prodid", "-//Clinic booking engine//web//EN")
    cal.add("version", "2.0")
    event = Event()
    event.add("uid", f"{appointment_id}@clinic-booking")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", datetime.fromisoformat(found["start"]))
    event.add("dtend", datetime.fromisoformat(found["end"]))
    event.add("summary", f"{found['service_name']} with {found['provider_name']}")
    event.add("location", "Video visit" if found["modality"] == "telehealth" else
              ", ".join([clinic["name"], *clinic["address"].values()]))
    cal.add_component(event)
    return Response(cal.to_ical(), media_type="text/calendar", headers={
        **HEADERS, "Content-Disposition": 'attachment; filename="visit.ics"'})


# The links in emails open a page that asks before it acts (a link alone changes nothing).
@router.get("/visits/{appointment_id}/confirm", response_model=None)
async def confirm_link(request: Request, appointment_id: UUID) -> RedirectResponse:
    return go(f"/visits/{appointment_id}")


@router.get("/waitlist/{entry_id}/offer", response_model=None)
async def offer_link(request: Request, entry_id: UUID) -> RedirectResponse:
    return go("/visits")


@router.post("/waitlist/{entry_id}/accept", dependencies=[Csrf], response_model=None)
async def accept(request: Request, entry_id: UUID, offer_id: Annotated[UUID, Form()]
                 ) -> HTMLResponse | RedirectResponse:
    api = Api(request, bearer(request))
    try:
        booked = await api.post(f"/waitlist/entries/{entry_id}/accept",
                                {"offer_id": str(offer_id)})
    except ApiError as problem:
        return trouble(request, problem, back="/visits", back_label="Your visits")
    return go(f"/visits/{booked['id']}?v={booked['version']}")


async def _step(request: Request, appointment_id: UUID,
                step: str) -> HTMLResponse | RedirectResponse:
    api = Api(request, bearer(request))
    try:
        done = await api.post(f"/bookings/{appointment_id}/{step}")
    except ApiError as problem:
        return trouble(request, problem, back=f"/visits/{appointment_id}",
                       back_label="Back to the visit")
    return go(f"/visits/{appointment_id}?v={done['version']}")


async def _fresh(api: Api, appointment_id: UUID, version: int) -> dict[str, Any]:
    """The visit as the read model has it, at `version` or later: the page after a command
    reads its own write (a moment of projection lag; decision 0066)."""
    for _ in range(READ_YOUR_WRITES):
        try:
            found: dict[str, Any] = await api.get(f"/bookings/{appointment_id}")
            if found["version"] >= version:
                return found
        except ApiError as problem:
            if problem.status != 404:
                raise
        await asyncio.sleep(0.1)
    found = await api.get(f"/bookings/{appointment_id}")
    return found


def _items(page: Any) -> list[dict[str, Any]]:
    return list(page or [])


@router.get("/consents", response_model=None)
async def consents(request: Request, signed: SignedIn) -> HTMLResponse:
    receipts = await signed.api.get(f"/patients/{signed.person['subject']}/consents")
    return render(request, "consents.html", receipts=receipts)


@router.get("/consents/{index}.json", response_model=None)
async def receipt(request: Request, index: int, signed: SignedIn) -> Response:
    """One signed receipt, as the API gave it: verifiable offline (docs/compliance.md)."""
    receipts = await signed.api.get(f"/patients/{signed.person['subject']}/consents")
    if not 0 <= index < len(receipts):
        return trouble(request, ApiError(404, "not-found", ""), back="/consents",
                       back_label="Your receipts")
    return Response(json.dumps(receipts[index], indent=2), media_type="application/json",
                    headers={**HEADERS, "Content-Disposition":
                             f'attachment; filename="consent-receipt-{index + 1}.json"'})


@router.get("/waitlist/join", response_model=None)
async def join_page(request: Request, service_id: UUID, signed: SignedIn) -> HTMLResponse:
    api = signed.api
    try:
        service = await api.get(f"/services/{service_id}")
        clinics = await api.get("/clinics")
    except ApiError as problem:
        return trouble(request, problem)
    today = datetime.now(UTC).date()
    return render(request, "waitlist_join.html", service=service, clinics=[
        c for c in clinics if service["modality"] in c["modalities"]],
        today=today.isoformat(), until=(today + timedelta(days=14)).isoformat())


@router.post("/waitlist/join", dependencies=[Csrf], response_model=None)
async def join(request: Request, service_id: Annotated[UUID, Form()],
               until: Annotated[date, Form()], clinic_id: Annotated[list[str], Form()] = []  # noqa: B006
               ) -> HTMLResponse | RedirectResponse:
    api = Api(request, bearer(request))
    ends = datetime.combine(until, time(23, 59), UTC)
    try:
        await api.post("/waitlist/entries", {
            "service_id": str(service_id), "not_after": ends.isoformat(),
            "clinic_ids": [c for c in clinic_id if c]})
    except ApiError as problem:
        return trouble(request, problem, back=f"/waitlist/join?service_id={service_id}",
                       back_label="Back to the waitlist")
    return go("/visits?joined=1")
