"""Staff sign-in through the clinic network's OpenID Connect provider: the authorization code
flow with PKCE (RFC 7636, S256) for the public client the API names (GET /auth/staff-sign-in).
The browser never sees the code verifier; the access token lands in the HttpOnly session
cookie, and the API checks it on every call as it checks any staff token (decision 0040).
Access tokens are short-lived: the refresh token (its own HttpOnly cookie) gets a new one
when the session cookie has lapsed, so a shift is not a sign-in every five minutes."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.api import Api, ApiError
from web.app import go, render
from web.pages.staff_sign_in import AFTER_SIGN_IN, ELSEWHERE, STAFF, staff_start
from web.session import REFRESH, SESSION, forget, remember

router = APIRouter(default_response_class=HTMLResponse)
FLOW = "clinic_oidc"  # the state, the code verifier and where to go after: 10 minutes
EARLY = 30  # seconds: the session cookie lapses this long before its access token expires
REFRESH_DEFAULT = 8 * 3600  # a refresh token's cookie when the provider does not say


@router.get("/staff/oidc", response_model=None)
async def start(request: Request, after: str = "") -> RedirectResponse | HTMLResponse:
    try:
        client = await Api(request, None).get("/auth/staff-sign-in")
        endpoints = await _discovery(client["issuer"])
    except (ApiError, httpx.HTTPError):
        return _refused(request, "Signing in with your clinic account is not available "
                                 "here. Use a staff token instead.")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(24)
    response = go(endpoints["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": client["client_id"], "scope": "openid",
        "redirect_uri": _callback(request), "state": state,
        "code_challenge": challenge.decode().rstrip("="), "code_challenge_method": "S256"}))
    remember(response, request, FLOW, json.dumps({
        "state": state, "verifier": verifier,
        "after": after if after in AFTER_SIGN_IN else ""}), max_age=600)
    return response


@router.get("/staff/oidc/callback", response_model=None)
async def callback(request: Request, state: str = "", code: str = "",
                   error: str = "") -> RedirectResponse | HTMLResponse:
    flow = _flow(request)
    if error or flow is None or not code or \
            not secrets.compare_digest(flow["state"], state):
        return _refused(request, "That sign-in did not complete (it was cancelled, or took "
                                 "too long). Please try again.")
    try:
        client = await Api(request, None).get("/auth/staff-sign-in")
        endpoints = await _discovery(client["issuer"])
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(endpoints["token_endpoint"], data={
                "grant_type": "authorization_code", "code": code,
                "redirect_uri": _callback(request), "client_id": client["client_id"],
                "code_verifier": flow["verifier"]})
        answer.raise_for_status()
        tokens = answer.json()
        person = await Api(request, tokens["access_token"]).get("/me")
    except (ApiError, httpx.HTTPError, KeyError, ValueError):
        person = None
    if person is None or not (person["role"] in STAFF or person["role"] in ELSEWHERE):
        return _refused(request, "Your clinic account has no staff role here. Ask your "
                                 "administrator to give you one.")
    response = go(staff_start(person["role"], flow["after"]))
    keep(response, request, tokens)
    forget(response, FLOW)
    return response


def keep(response: Response, request: Request, tokens: dict[str, Any]) -> None:
    """The access token until shortly before it expires (the browser then stops sending it
    and the refresh token gets the next one), and the refresh token while it lasts."""
    lasts = int(tokens.get("expires_in", 300))
    remember(response, request, SESSION, tokens["access_token"],
             max_age=max(lasts - EARLY, min(lasts, EARLY)))
    if tokens.get("refresh_token"):
        remember(response, request, REFRESH, tokens["refresh_token"], same_site="strict",
                 max_age=int(tokens.get("refresh_expires_in") or REFRESH_DEFAULT))


async def refreshed(request: Request) -> dict[str, Any] | None:
    """New tokens for the staff member whose refresh token this request carries; None when
    the provider refuses it (signed out there, session over, role or account removed)."""
    try:
        client = await Api(request, None).get("/auth/staff-sign-in")
        endpoints = await _discovery(client["issuer"])
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(endpoints["token_endpoint"], data={
                "grant_type": "refresh_token", "client_id": client["client_id"],
                "refresh_token": request.cookies.get(REFRESH, "")})
        answer.raise_for_status()
        tokens: dict[str, Any] = answer.json()
        return tokens if tokens.get("access_token") else None
    except (ApiError, httpx.HTTPError, KeyError, ValueError):
        return None


async def _discovery(issuer: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def _callback(request: Request) -> str:
    return str(request.url_for("callback"))


def _flow(request: Request) -> dict[str, str] | None:
    try:
        found = json.loads(request.cookies.get(FLOW) or "null")
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _refused(request: Request, message: str) -> HTMLResponse:
    response = render(request, "problem.html", status=400, message=message, back="/staff",
                      back_label="Back to staff sign-in")
    forget(response, FLOW)
    return response
