"""Request latency by route template and status: the SLIs of docs/observability.md.

Pure ASGI, like the request-context middleware: cheap on the hot path. The route is the
template the router matched (`/bookings/{appointment_id}`), never the raw path: a raw path
carries ids and would make a new series per record.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.observability.metrics import observe_request

UNMATCHED = "unmatched"  # 404s on unknown paths: one series, whatever was asked for
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            observe_request(method_label(scope["method"]), route_label(scope), status,
                            time.perf_counter() - started)


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def method_label(method: str) -> str:
    return method if method in _METHODS else "other"
