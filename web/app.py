"""The UI on the API's own app: pages at `/` (left out of the OpenAPI document), assets at
/static, and the headers every page carries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import URL

from web.session import CSRF, FormExpired, bearer, csrf_token, remember

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
# Only the app's own scripts, styles and images; no inline script, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "X-Frame-Options": "DENY"}


def local(moment: str | datetime, zone: str, fmt: str = "%A %-d %B, %-I:%M %p") -> str:
    """A time as the clinic's clock shows it."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when.astimezone(ZoneInfo(zone)).strftime(fmt)


TEMPLATES.env.filters["local"] = local


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("signed_in", bearer(request) is not None)
    context["csrf"] = csrf_token(request)
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status,
                                          headers=HEADERS)
    if getattr(request.state, "new_csrf", None):
        remember(response, request, CSRF, request.state.new_csrf, same_site="strict")
    return response


def go(path: str | URL, status: int = 303) -> RedirectResponse:
    return RedirectResponse(str(path), status_code=status, headers=HEADERS)


def install_web(app: FastAPI) -> None:
    from web.pages import ROUTERS
    from web.pages.common import SignInFirst, StaffSignInFirst, staff_sign_in_first
    from web.staff_refresh import KeepStaffSignedIn

    app.add_exception_handler(SignInFirst, lambda request, exc: go("/sign-in"))
    app.add_exception_handler(StaffSignInFirst, staff_sign_in_first)
    app.add_exception_handler(FormExpired, lambda request, exc: render(
        request, "problem.html", status=403, back="/", back_label="Start again",
        message="This form had expired, so nothing was done. Go back, reload the page and "
                "try again."))
    app.add_middleware(KeepStaffSignedIn)  # a lapsed staff session renewed (OIDC refresh)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
