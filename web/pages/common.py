"""What several pages need: the signed-in person, and a problem page in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.api import Api, ApiError
from web.app import go, render
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
STAFF_PAGES = {"compliance": "/compliance", "admin": "/ops"}  # pages for one staff role


class StaffSignInFirst(Exception):
    """The page is for one staff role (web/app.py answers with `staff_sign_in_first`)."""

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


def signed_in_as(role: str) -> Any:
    """A dependency: the signed-in person, who must hold `role`."""

    async def signed(request: Request) -> Signed:
        api = Api(request, bearer(request))
        person = await me(api, request)
        if person is None or person["role"] != role:
            raise StaffSignInFirst(role)
        return Signed(api, person)

    return Depends(signed)


def staff_sign_in_first(request: Request, exc: Exception) -> HTMLResponse | RedirectResponse:
    """Signed out: the staff sign-in (`/staff`), back to the page after it. Signed in with
    another role: the same form, saying which role the page is for."""
    assert isinstance(exc, StaffSignInFirst)
    here = STAFF_PAGES[exc.role]
    if bearer(request) is None:
        return go(f"/staff?{urlencode({'after': here})}")
    return render(request, "staff_sign_in.html", status=403, patient=False, after=here,
                  message=f"This page is for the {exc.role} role. Sign in with a {exc.role} "
                          "token.")


def trouble(request: Request, problem: ApiError, *, back: str = "/",
            back_label: str = "Start again") -> HTMLResponse:
    status = problem.status if 400 <= problem.status < 600 else 400
    return render(request, "problem.html", status=status, message=plain(problem), back=back,
                  back_label=back_label)
