"""The day-of actions on a visit from the calendar: check in, complete, no-show, cancel for
the patient, hand off to another provider (the visit's own commands)."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go
from web.pages.common import trouble
from web.pages.staff_desk import SETTLE
from web.session import bearer, checked_csrf

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
AFTER = {"check-in": "checked-in", "complete": "fulfilled", "no-show": "noshow",
         "cancel": "cancelled"}
STEPS = ("check-in", "complete", "no-show", "cancel")


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
