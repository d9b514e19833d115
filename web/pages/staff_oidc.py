"""Staff sign-in through the clinic network's OpenID Connect provider: the authorization code
flow with PKCE (RFC 7636, S256) for the public client the API names (GET /auth/staff-sign-in).
The browser never sees the code verifier; the access token lands in the HttpOnly session
cookie, and the API checks it on every call as it checks any staff token (decision 0040)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go, render
from web.pages.staff_sign_in import AFTER_SIGN_IN, ELSEWHERE, STAFF, staff_start
from web.session import SESSION, forget, remember

router = APIRouter(default_response_class=HTMLResponse)
FLOW = "clinic_oidc"  # the state, the code verifier and where to go after: 10 minutes


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
    remember(response, request, SESSION, tokens["access_token"],
             max_age=int(tokens.get("expires_in", 300)))
    forget(response, FLOW)
    return response


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
