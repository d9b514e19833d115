"""What every staff page starts from: who is signed in, the clinics and providers they may
pick, the ones picked, and the provider's published hours (GET/PUT
/providers/{id}/availability/{clinic})."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse

from web.api import Api, ApiError
from web.app import go
from web.pages.common import me
from web.pages.staff_sign_in import STAFF
from web.session import bearer

DONE_WORDS = {"check-in": "Checked in.", "complete": "Marked as completed.",
              "no-show": "Marked as not come.", "cancel": "Cancelled for the patient.",
              "hand-off": "Handed off.", "hours": "Your weekly hours are saved.",
              "time-off": "Time off is saved.", "time-off-removed": "Time off is removed."}
SETTLE = 30  # tries, 0.1 s apart: until the read model shows a day-of action just taken


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


async def load_desk(request: Request, clinic_id: str | None,
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


async def load_rules(desk: Desk) -> dict[str, Any] | None:
    assert desk.provider is not None
    try:
        found: dict[str, Any] = await desk.api.get(
            f"/providers/{desk.provider['id']}/availability/{desk.clinic['id']}")
    except ApiError as problem:
        if problem.status == 404:
            return None
        raise
    return found


async def patient_name(api: Api, patient_id: str) -> str | None:
    """The patient's name where the API gives it to this staff member; None otherwise."""
    try:
        found = await api.get(f"/patients/{patient_id}")
    except ApiError:
        return None
    return f"{found['given_name']} {found['family_name']}"


def here_of(desk: Desk, day: date, view: str) -> dict[str, str]:
    return {"clinic": desk.clinic["id"], "provider": desk.provider["id"] if desk.provider
            else "", "day": day.isoformat(), "view": view}
