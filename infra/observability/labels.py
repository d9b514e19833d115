"""Labels of the request latency histogram (the SLIs of docs/observability.md), observed by
the request-context middleware (infra/http/request_context.py) with the same clock and
status as its log line. The route is the template the router matched
(`/bookings/{appointment_id}`), never the raw path: a raw path carries ids and would make a
new series per record.
"""

from __future__ import annotations

from starlette.types import Scope

UNMATCHED = "unmatched"  # 404s on unknown paths: one series, whatever was asked for
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def method_label(method: str) -> str:
    return method if method in _METHODS else "other"
