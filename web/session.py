"""What the browser keeps: the session (the API bearer, HttpOnly), the held time, and the
CSRF token (double submit: a cookie the form must repeat). No PHI in any cookie or URL."""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal

from fastapi import Form, Request, Response

SESSION = "clinic_session"  # the bearer token: a patient's session or a staff token
REFRESH = "clinic_staff_refresh"  # a staff member's OpenID Connect refresh token
HOLD = "clinic_hold"  # the held slot: ids, the hold's secret, when it lapses
CSRF = "clinic_csrf"
SIGN_IN = "clinic_sign_in"  # the sign-in in progress: email and registration id (PHI-light)


def bearer(request: Request) -> str | None:
    return request.cookies.get(SESSION) or None


def csrf_token(request: Request) -> str:
    """The page's token: the browser's cookie, or a new one (set by `render`)."""
    token = request.cookies.get(CSRF) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return str(token)


class FormExpired(Exception):
    """A post without the CSRF token of the browser's cookie: refused (403, web/app.py)."""


async def checked_csrf(request: Request, csrf: str = Form("")) -> None:
    """A form post must carry the token of the browser's cookie (SameSite=Strict)."""
    cookie = request.cookies.get(CSRF, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        raise FormExpired


def remember(response: Response, request: Request, name: str, value: str,
             max_age: int | None = None,
             same_site: Literal["lax", "strict"] = "lax") -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True,
                        secure=over_https(request), samesite=same_site, path="/")


def over_https(request: Request) -> bool:
    """Whether the browser reaches us over HTTPS: this request, or the public address
    (CLINIC_PUBLIC_URL) when a proxy ends TLS and forwards plain HTTP (uvicorn does not trust
    forwarded headers). The demo on http://127.0.0.1 gets cookies it can send back."""
    return request.url.scheme == "https" or public_url(request).startswith("https://")


def public_url(request: Request) -> str:
    """The one setting the pages need from the app they are mounted on (CLINIC_PUBLIC_URL),
    which the app factory puts on its state; web/ imports nothing of infra/ (decision 0066)."""
    return str(getattr(request.app.state, "public_url", "") or "")


def forget(response: Response, *names: str) -> None:
    for name in names:
        response.delete_cookie(name, path="/")


def held(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(HOLD)
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
