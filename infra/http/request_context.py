"""Request id on every response and every log line, and the request's latency in the
metrics: one clock, one status, one route label per request (pure ASGI: cheap on the hot
path)."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.observability.labels import method_label, route_label
from infra.observability.metrics import observe_request

HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._\-]{8,128}$")
log = structlog.get_logger("clinic.http")


def request_id_of(request: Request) -> str:
    """The id this middleware gave the request ('-' outside a request)."""
    return str(request.scope.get("state", {}).get("request_id", "-"))


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        request_id = given if _VALID.match(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds, route = time.perf_counter() - started, route_label(scope)
            observe_request(method_label(scope["method"]), route, status, seconds)
            log.info("request", method=scope["method"], route=route, status=status,
                     duration_ms=round(seconds * 1000, 2))
            structlog.contextvars.unbind_contextvars("request_id")
