"""RFC 9457 problem details: the one place where errors become HTTP responses.

Every `type` is `urn:clinic:problem:<code>`; codes are documented in docs/errors.md.
Problem bodies never echo request input (it may be PHI) and never carry a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    LimitReachedError,
    NotAuthenticatedError,
    NotFoundError,
    PreconditionFailedError,
    RuleViolationError,
)
from infra.fhir.outcome import operation_outcome

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:clinic:problem:"
log = structlog.get_logger("clinic.problems")

# code -> (status, title). Domain errors map here and nowhere else.
PROBLEMS: dict[str, tuple[int, str]] = {
    "validation-error": (422, "The request is not valid"),
    "malformed-request": (400, "The request could not be read"),
    "unauthenticated": (401, "Authentication required"),
    "forbidden": (403, "Not allowed for this role"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict with the current state"),
    "precondition-failed": (412, "The record changed since it was read"),
    "payload-too-large": (413, "The request body is too large"),
    "rule-violation": (422, "A business rule was broken"),
    "rate-limited": (429, "Too many requests"),
    "internal-error": (500, "Internal error"),
    "service-unavailable": (503, "Service unavailable"),
}
_STATUS_CODES = {status: code for code, (status, _) in PROBLEMS.items()}
_DOMAIN_CODES: dict[type[DomainError], str] = {
    NotFoundError: "not-found",
    ConflictError: "conflict",
    PreconditionFailedError: "precondition-failed",
    RuleViolationError: "rule-violation",
    InvalidInputError: "validation-error",
    NotAuthenticatedError: "unauthenticated",
    ForbiddenError: "forbidden",
    LimitReachedError: "rate-limited",
}


# Refusals that go to the access audit (infra/http/audit.py), besides those marked `denied`.
DENIALS = frozenset({"unauthenticated", "forbidden", "rate-limited"})


class ProblemError(Exception):
    """Raise from the HTTP edge to answer with a problem document. `denied` marks a refusal
    that does not look like one (a 404 hiding someone else's record) for the audit."""

    def __init__(self, code: str, detail: str, *, headers: dict[str, str] | None = None,
                 denied: bool = False, **extensions: Any) -> None:
        assert code in PROBLEMS, f"undocumented problem code {code}"
        super().__init__(detail)
        self.code, self.detail, self.headers, self.extensions = code, detail, headers, extensions
        self.denied = denied or code in DENIALS


def problem_response(request: Request, code: str, detail: str, *,
                     headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    status, title = PROBLEMS[code]
    if request.url.path.startswith("/fhir/"):  # FHIR's own shape and statuses
        fhir_status, outcome = operation_outcome(code, status, detail, extensions)
        return JSONResponse(outcome, status_code=fhir_status, headers=headers,
                            media_type="application/fhir+json")
    body = {
        "type": TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request.scope.get("state", {}).get("request_id"),
        **extensions,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def domain_code(error: DomainError) -> str:
    for cls in type(error).__mro__:
        if cls in _DOMAIN_CODES:
            return _DOMAIN_CODES[cls]
    return error.code if error.code in PROBLEMS else "rule-violation"


DenialHook = Callable[[Request, int, str], Awaitable[None]]
_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}


def allowed_methods(request: Request, headers: dict[str, str] | None) -> str:
    """Every method the path answers. Routes that share a path (GET /clinics on the read side,
    POST /clinics on the write side) are separate routes, and the 405 of the first one that
    matched names only its own methods; the OpenAPI document knows them all."""
    methods = {m.strip() for m in (headers or {}).get("Allow", "").split(",") if m.strip()}
    path = request.url.path
    paths = request.app.openapi().get("paths", {})
    if path in paths:  # a literal path (/fhir/R4/Appointment/$hold) before any template
        return ", ".join(sorted(methods | {m.upper() for m in paths[path]
                                           if m.upper() in _HTTP_METHODS}))
    for template, operations in paths.items():
        pattern = "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template))
        if re.fullmatch(pattern, path):
            methods |= {m.upper() for m in operations if m.upper() in _HTTP_METHODS}
    return ", ".join(sorted(methods))


def _location(error: Any) -> list[str]:
    """Where the error is. An unexpected field's name is the caller's input (it may be
    PHI), so it is not echoed."""
    location = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "extra_forbidden" and location:
        location[-1] = "(unexpected field)"
    return location


def install_problem_handlers(app: FastAPI, on_denial: DenialHook | None = None) -> None:
    """`on_denial` hears of every refusal (the access audit)."""
    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        if exc.denied and on_denial is not None:
            await on_denial(request, PROBLEMS[exc.code][0], exc.code)
        return problem_response(request, exc.code, exc.detail, headers=exc.headers,
                                **exc.extensions)

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        code = domain_code(exc)
        if (exc.denied or code in DENIALS) and on_denial is not None:
            await on_denial(request, PROBLEMS[code][0], code)
        headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
        extensions: dict[str, Any] = {"error": exc.code, **exc.extensions()}
        return problem_response(request, code, exc.detail, headers=headers, **extensions)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": _location(e), "message": e.get("msg", "")}
                  for e in exc.errors()]
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        code = "malformed-request" if malformed else "validation-error"
        return problem_response(request, code, "See `errors` for each invalid field.",
                                errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "internal-error")
        detail = exc.detail if isinstance(exc.detail, str) else PROBLEMS[code][1]
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request, headers)}
        return problem_response(request, code, detail, headers=headers)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", error_type=type(exc).__name__, exc_info=exc)
        return problem_response(request, "internal-error",
                                "Something went wrong on our side; quote the request id.")
