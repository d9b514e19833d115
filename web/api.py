"""The public HTTP API as the pages call it: in-process (no network hop), but through the
whole HTTP stack — routing, validation, authorisation, rate limits, the access audit — with
the browser's own address and the signed-in person's bearer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request


@dataclass
class ApiError(Exception):
    """A problem the API answered (RFC 9457): its status, stable code and detail."""

    status: int
    code: str
    detail: str
    retry_after: int | None = None
    fields: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        retry = response.headers.get("Retry-After")
        return cls(response.status_code, str(body.get("error") or body.get("type") or ""),
                   str(body.get("detail") or body.get("title") or ""),
                   int(retry) if retry and retry.isdigit() else None,
                   [".".join(str(p) for p in e.get("location", [])[1:])
                    for e in body.get("errors", []) if isinstance(e, dict)])


DOOR = "clinic.door"  # the ASGI scope key that says a request came through the web UI


class _ThroughTheWebUi:
    """The API app, with each of our calls marked as the web UI's in its ASGI scope: the
    door is recorded with the events it causes (decision 0058). A scope key, not a header,
    so that no outside client can claim it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app({**scope, DOOR: "ui"}, receive, send)


class Api:
    def __init__(self, request: Request, bearer: str | None) -> None:
        client = request.client
        self.transport = httpx.ASGITransport(
            app=_ThroughTheWebUi(request.app),
            client=(client.host, client.port) if client else ("127.0.0.1", 0))
        self.headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}

    async def call(self, method: str, path: str, *, json: Any = None,
                   params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Any:
        """The answer's JSON (None when empty); ApiError for any problem answer."""
        async with httpx.AsyncClient(transport=self.transport,
                                     base_url="http://clinic.internal") as http:
            response = await http.request(method, path, json=json, params=params,
                                          headers={**self.headers, **(headers or {})})
        if response.status_code >= 400:
            raise ApiError.of(response)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith(("application/json",
                                                                 "application/problem")):
            return response.json()
        return response.text

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params={k: v for k, v in params.items()
                                                    if v not in (None, "")})

    async def post(self, path: str, json: Any = None, **headers: str) -> Any:
        return await self.call("POST", path, json=json if json is not None else {},
                               headers=headers)
