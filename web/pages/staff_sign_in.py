"""Staff sign in with a staff token (development; production signs in through the OpenID
Connect provider, web/pages/staff_oidc.py, decision 0040), and where each role starts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go, render
from web.pages.common import me
from web.session import SESSION, bearer, checked_csrf, remember

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
STAFF = ("provider", "front_desk", "admin")
ELSEWHERE = {"compliance": "/compliance"}  # staff whose pages are not the calendar
AFTER_SIGN_IN = ("/compliance", "/ops")  # pages a sign-in may lead back to (no open redirect)


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
