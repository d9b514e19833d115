"""What several pages need: the signed-in person, and a problem page in plain words."""

from __future__ import annotations

from typing import Any

from fastapi import Request
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


def trouble(request: Request, problem: ApiError, *, back: str = "/",
            back_label: str = "Start again") -> HTMLResponse:
    status = problem.status if 400 <= problem.status < 600 else 400
    return render(request, "problem.html", status=status, message=plain(problem), back=back,
                  back_label=back_label)
