"""What several pages need: the signed-in person, and a problem page in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from web.api import Api, ApiError
from web.app import render
from web.session import bearer
from web.words import plain


async def me(api: Api, request: Request) -> dict[str, Any] | None:
    """Who the session belongs to (GET /me); None when signed out or the session ended."""
    if bearer(request) is None:
        return None
    try:
        found: dict[str, Any] = await api.get("/me")
    except ApiError:
        return None
    return found


class SignInFirst(Exception):
    """The page is for a signed-in person: the sign-in page instead (web/app.py)."""


@dataclass(frozen=True)
class Signed:
    api: Api  # as the signed-in person
    person: dict[str, Any]  # GET /me: subject, role, scopes, clinics


async def signed_in(request: Request) -> Signed:
    api = Api(request, bearer(request))
    person = await me(api, request)
    if person is None:
        raise SignInFirst
    return Signed(api, person)


SignedIn = Annotated[Signed, Depends(signed_in)]


def trouble(request: Request, problem: ApiError, *, back: str = "/",
            back_label: str = "Start again") -> HTMLResponse:
    status = problem.status if 400 <= problem.status < 600 else 400
    return render(request, "problem.html", status=status, message=plain(problem), back=back,
                  back_label=back_label)
