"""Keep a staff member signed in through their shift: a request that carries the OpenID
Connect refresh token but no session (the short-lived access token lapsed) gets new tokens
from the identity provider before any page sees it. A pure ASGI wrapper, so the API's own
requests (which carry no cookies) pass through at the cost of one header scan."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.session import REFRESH, SESSION, forget


class KeepStaffSignedIn:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _lapsed(scope):
            await self.app(scope, receive, send)
            return
        from web.pages.staff_oidc import keep, refreshed

        request = Request(scope)
        tokens = await refreshed(request)
        cookies = Response()
        if tokens is None:
            forget(cookies, REFRESH)  # refused: the page asks the person to sign in
        else:
            keep(cookies, request, tokens)
            scope = {**scope, "headers": _with_session(scope, tokens["access_token"])}
        set_cookies = [(k, v) for k, v in cookies.raw_headers if k == b"set-cookie"]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  *set_cookies]}
            await send(message)

        await self.app(scope, receive, sending)


def _cookie_header(scope: Scope) -> bytes:
    return b"; ".join(v for k, v in scope["headers"] if k == b"cookie")


def _lapsed(scope: Scope) -> bool:
    names = {part.split(b"=", 1)[0].strip() for part in _cookie_header(scope).split(b";")}
    return REFRESH.encode() in names and SESSION.encode() not in names


def _with_session(scope: Scope, token: str) -> list[Any]:
    """The request's headers with the new access token as its session cookie."""
    cookie = _cookie_header(scope) + f"; {SESSION}={token}".encode()
    return [*((k, v) for k, v in scope["headers"] if k != b"cookie"), (b"cookie", cookie)]
