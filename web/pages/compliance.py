"""The compliance officer's pages (role compliance): search the audit timeline by patient,
appointment, provider, clinic or actor; the consents behind a booking; a record as it stood;
the integrity of the event log (the newest signed checkpoint, its signature checked); how to
export. Search terms are POSTed, never put in a URL (an actor may be named by an email);
ids are fine in a URL, so every id on a timeline links to its own timeline.
Staff sign in at `/staff` (web/pages/staff_sign_in.py), which brings them back here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import ApiError
from web.app import render
from web.pages.common import Signed, signed_in_as, trouble
from web.session import checked_csrf
from web.words import plain

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
KINDS = {"patient": "Patient id", "appointment": "Appointment id", "provider": "Provider id",
         "clinic": "Clinic id", "record": "Any record id", "actor": "Actor (who acted)"}
BY_ID = ("patient", "appointment", "provider", "clinic", "record")
PAGE = 100
Officer = Annotated[Signed, signed_in_as("compliance")]


# The officer's start: search, integrity, export ----------------------------------------
@router.get("/compliance", response_model=None)
async def start(request: Request, signed: Officer) -> HTMLResponse:
    return await _start(request, signed)


@router.post("/compliance/search", dependencies=[Csrf], response_model=None)
async def search(request: Request, signed: Officer, kind: Annotated[str, Form()],
                 term: Annotated[str, Form(max_length=200)],
                 cursor: Annotated[str, Form(max_length=200)] = ""
                 ) -> HTMLResponse | RedirectResponse:
    """A search POSTed: the term stays out of the URL and the history."""
    term = term.strip()
    if kind not in KINDS or not term:
        return await _start(request, signed, "Choose what to search by and enter it.")
    if kind in BY_ID:
        try:
            UUID(term)
        except ValueError:
            return await _start(request, signed, f"{KINDS[kind]}: enter the whole id, 36 "
                                "characters, as a record shows it.")
    return await _timeline(request, signed, kind, term, cursor or None)


@router.get("/compliance/timeline/{kind}/{subject_id}", response_model=None)
async def timeline(request: Request, kind: str, subject_id: UUID, signed: Officer,
                   cursor: str = ""
                   ) -> HTMLResponse | RedirectResponse:
    if kind not in BY_ID:
        return trouble(request, ApiError(404, "not-found", ""), back="/compliance",
                       back_label="Compliance")
    return await _timeline(request, signed, kind, str(subject_id), cursor or None)


@router.get("/compliance/records/{record_id}", response_model=None)
async def record(request: Request, record_id: UUID, signed: Officer) -> HTMLResponse:
    """A record as it stands now, rebuilt from its events, with every change (no PHI)."""
    try:
        past = await signed.api.get(f"/audit/records/{record_id}")
    except ApiError as problem:
        return trouble(request, problem, back="/compliance", back_label="Compliance")
    return render(request, "compliance_record.html", past=past)


async def _timeline(request: Request, signed: Signed, kind: str, term: str,
                    cursor: str | None) -> HTMLResponse:
    api = signed.api
    try:
        found = await api.get("/audit/timeline", **{
            "actor" if kind == "actor" else f"{kind}_id": term}, cursor=cursor, limit=PAGE)
        consents = await api.get(f"/audit/bookings/{term}/consents") \
            if kind == "appointment" else None
    except ApiError as problem:
        if problem.status in (404, 422):
            return await _start(request, signed, plain(problem))
        return trouble(request, problem, back="/compliance", back_label="Compliance")
    return render(request, "compliance_timeline.html", kind=kind, label=KINDS[kind],
                  term=term, page=found, consents=consents, by_id=kind in BY_ID)


async def _start(request: Request, signed: Signed, message: str | None = None
                 ) -> HTMLResponse:
    """The search form (again, saying what was wrong), the log's integrity, the export, and
    the newest refused requests."""
    api, person = signed.api, signed.person
    try:
        integrity = await api.get("/audit/checkpoint")
        refused = await api.get("/audit-events", outcome="denied", limit=10)
    except ApiError as problem:
        return trouble(request, problem, back="/compliance", back_label="Compliance")
    return render(request, "compliance_start.html", status=400 if message else 200,
                  kinds=KINDS, person=person, integrity=integrity, refused=refused["events"],
                  message=message)
