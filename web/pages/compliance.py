"""The compliance officer's pages (role compliance): search the audit timeline by patient,
appointment, provider, clinic or actor; the consents behind a booking; a record as it stood;
the integrity of the event log (the newest signed checkpoint, its signature checked); how to
export. Search terms are POSTed, never put in a URL (an actor may be named by an email);
ids are fine in a URL, so every id on a timeline links to its own timeline.
Staff sign in at `/staff` (web/pages/staff.py), which brings them back here."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go, render
from web.pages.common import me, trouble
from web.session import bearer, checked_csrf
from web.words import plain

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
KINDS = {"patient": "Patient id", "appointment": "Appointment id", "provider": "Provider id",
         "clinic": "Clinic id", "record": "Any record id", "actor": "Actor (who acted)"}
BY_ID = ("patient", "appointment", "provider", "clinic", "record")
PAGE = 100
PAGES = {"compliance": "/compliance", "admin": "/ops"}  # each role's pages here


async def staff(request: Request, role: str) -> tuple[Api, dict[str, Any] | None]:
    """The API as the signed-in person, and who they are if they hold `role`."""
    api = Api(request, bearer(request))
    person = await me(api, request)
    return api, person if person is not None and person["role"] == role else None


def sign_in_first(request: Request, role: str) -> HTMLResponse | RedirectResponse:
    """Signed out: the staff sign-in (`/staff`), back here after it. Signed in with another
    role: the same form, saying which role this page is for."""
    here = PAGES[role]
    if bearer(request) is None:
        return go(f"/staff?{urlencode({'after': here})}")
    return render(request, "staff_sign_in.html", status=403, patient=False, after=here,
                  message=f"This page is for the {role} role. Sign in with a {role} token.")


# The officer's start: search, integrity, export ----------------------------------------
@router.get("/compliance", response_model=None)
async def start(request: Request) -> HTMLResponse | RedirectResponse:
    return await _start(request)


@router.post("/compliance/search", dependencies=[Csrf], response_model=None)
async def search(request: Request, kind: Annotated[str, Form()],
                 term: Annotated[str, Form(max_length=200)],
                 cursor: Annotated[str, Form(max_length=200)] = ""
                 ) -> HTMLResponse | RedirectResponse:
    """A search POSTed: the term stays out of the URL and the history."""
    term = term.strip()
    if kind not in KINDS or not term:
        return await _start(request, "Choose what to search by and enter it.")
    if kind in BY_ID:
        try:
            UUID(term)
        except ValueError:
            return await _start(request, f"{KINDS[kind]}: enter the whole id, 36 "
                                "characters, as a record shows it.")
    return await _timeline(request, kind, term, cursor or None)


@router.get("/compliance/timeline/{kind}/{subject_id}", response_model=None)
async def timeline(request: Request, kind: str, subject_id: UUID, cursor: str = ""
                   ) -> HTMLResponse | RedirectResponse:
    if kind not in BY_ID:
        return trouble(request, ApiError(404, "not-found", ""), back="/compliance",
                       back_label="Compliance")
    return await _timeline(request, kind, str(subject_id), cursor or None)


@router.get("/compliance/records/{record_id}", response_model=None)
async def record(request: Request, record_id: UUID) -> HTMLResponse | RedirectResponse:
    """A record as it stands now, rebuilt from its events, with every change (no PHI)."""
    api, person = await staff(request, "compliance")
    if person is None:
        return sign_in_first(request, "compliance")
    try:
        past = await api.get(f"/audit/records/{record_id}")
    except ApiError as problem:
        return trouble(request, problem, back="/compliance", back_label="Compliance")
    return render(request, "compliance_record.html", past=past)


async def _timeline(request: Request, kind: str, term: str,
                    cursor: str | None) -> HTMLResponse | RedirectResponse:
    api, person = await staff(request, "compliance")
    if person is None:
        return sign_in_first(request, "compliance")
    try:
        found = await api.get("/audit/timeline", **{
            "actor" if kind == "actor" else f"{kind}_id": term}, cursor=cursor, limit=PAGE)
        consents = await api.get(f"/audit/bookings/{term}/consents") \
            if kind == "appointment" else None
    except ApiError as problem:
        if problem.status in (404, 422):
            return await _start(request, plain(problem))
        return trouble(request, problem, back="/compliance", back_label="Compliance")
    return render(request, "compliance_timeline.html", kind=kind, label=KINDS[kind],
                  term=term, page=found, consents=consents, by_id=kind in BY_ID)


async def _start(request: Request, message: str | None = None
                 ) -> HTMLResponse | RedirectResponse:
    """The search form (again, saying what was wrong), the log's integrity, the export, and
    the newest refused requests."""
    api, person = await staff(request, "compliance")
    if person is None:
        return sign_in_first(request, "compliance")
    try:
        integrity = await api.get("/audit/checkpoint")
        refused = await api.get("/audit-events", outcome="denied", limit=10)
    except ApiError as problem:
        return trouble(request, problem, back="/compliance", back_label="Compliance")
    return render(request, "compliance_start.html", status=400 if message else 200,
                  kinds=KINDS, person=person, integrity=integrity, refused=refused["events"],
                  message=message)
