"""The patient's account on the way to a booking: sign in or register with the email code,
sign out, and give the consent a booking needs. Every step is a call to the public API."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go, render
from web.pages.common import SignedIn, trouble
from web.session import (
    HOLD,
    REFRESH,
    SESSION,
    SIGN_IN,
    bearer,
    checked_csrf,
    forget,
    held,
    remember,
)
from web.words import plain

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)


# Sign in and register -----------------------------------------------------------------
@router.get("/sign-in", response_model=None)
async def sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "sign_in.html",
                  signing_in=json.loads(request.cookies.get(SIGN_IN) or "null"))


@router.post("/sign-in", dependencies=[Csrf], response_model=None)
async def sign_in(request: Request, email: Annotated[str, Form(max_length=254)]
                  ) -> HTMLResponse | RedirectResponse:
    api = Api(request, None)
    try:
        await api.post("/auth/email-code", {"email": email.strip()})
    except ApiError as problem:
        return render(request, "sign_in.html", status=problem.status, message=plain(problem),
                      signing_in=None)
    return _code_next(request, {"email": email.strip()})


@router.post("/register", dependencies=[Csrf], response_model=None)
async def register(request: Request, given_name: Annotated[str, Form(max_length=100)],
                   family_name: Annotated[str, Form(max_length=100)],
                   birth_date: Annotated[str, Form(max_length=10)],
                   email: Annotated[str, Form(max_length=254)],
                   phone: Annotated[str, Form(max_length=20)] = ""
                   ) -> HTMLResponse | RedirectResponse:
    api = Api(request, None)
    details = {"given_name": given_name, "family_name": family_name, "birth_date": birth_date,
               "email": email.strip(), **({"phone": phone} if phone else {})}
    try:
        registered = await api.post("/patients", details)
    except ApiError as problem:
        return render(request, "sign_in.html", status=problem.status, message=plain(problem),
                      signing_in=None, entered=details)
    return _code_next(request, {"email": email.strip(),
                                "patient_id": registered["patient_id"]})


@router.post("/code", dependencies=[Csrf], response_model=None)
async def code(request: Request, code: Annotated[str, Form(max_length=20)]
               ) -> HTMLResponse | RedirectResponse:
    signing_in = json.loads(request.cookies.get(SIGN_IN) or "null")
    if not signing_in:
        return go("/sign-in")
    api = Api(request, None)
    try:
        token = await api.post("/auth/verify", {**signing_in,
                                                "code": "".join(code.split())})
    except ApiError as problem:
        return render(request, "sign_in.html", status=problem.status, message=plain(problem),
                      signing_in=signing_in)
    response = go("/checkout" if held(request) else "/visits")
    remember(response, request, SESSION, token["access_token"], max_age=token["expires_in"])
    forget(response, SIGN_IN)
    return response


@router.post("/sign-out", dependencies=[Csrf], response_model=None)
async def sign_out(request: Request) -> RedirectResponse:
    with contextlib.suppress(ApiError):  # ended already
        await Api(request, bearer(request)).post("/auth/sign-out")
    response = go("/")
    forget(response, SESSION, REFRESH, HOLD, SIGN_IN)
    return response


# Consent --------------------------------------------------------------------------------
@router.post("/consent", dependencies=[Csrf], response_model=None)
async def consent(request: Request, signed: SignedIn, purpose: Annotated[list[str], Form()]
                  ) -> HTMLResponse | RedirectResponse:
    api, person = signed.api, signed.person
    policies = {p["purpose"]: p for p in await api.get("/consent-policies")}
    try:
        for wanted in purpose:
            await api.post(f"/patients/{person['subject']}/consents",
                           {"purpose": wanted, "policy_version": policies[wanted]["version"]})
    except (ApiError, KeyError) as problem:
        return trouble(request, problem if isinstance(problem, ApiError)
                       else ApiError(422, "validation-error", ""), back="/checkout",
                       back_label="Back to your booking")
    return go("/checkout" if held(request) else "/visits")


async def consent_page(request: Request, api: Api, current: dict[str, Any]) -> HTMLResponse:
    needed = ["treatment"] + (["telehealth"] if current["slot"]["modality"] == "telehealth"
                              else [])
    policies = [p for p in await api.get("/consent-policies") if p["purpose"] in needed]
    return render(request, "consent.html", policies=policies)


def _code_next(request: Request, signing_in: dict[str, str]) -> RedirectResponse:
    response = go("/sign-in")
    remember(response, request, SIGN_IN, json.dumps(signing_in), max_age=15 * 60)
    return response
