"""The OpenAPI document says which problem documents each operation can answer.

Every error is `application/problem+json` (infra/http/problems.py), so the generated document
is completed here, in one place, instead of in every route's `responses=`:

- every operation: 500 (a bug) and 503 (a dependency is down);
- a JSON request body: 400 (not JSON) and 422 (invalid fields);
- parameters (path, query, header): 422; path parameters also 404 (no such record);
- a bearer requirement: 401 (with `WWW-Authenticate`), and 403 when it names a scope;
- writes (POST, PUT, PATCH, DELETE): 404 (a record named in the body), 409 (the state
  changed), 422 (a business rule), 429 (rate limits, with `Retry-After`).

FastAPI's own 422 (`HTTPValidationError`, `application/json`) is replaced: this API never
answers it. A status a route declares itself (`responses={409: {"description": ...}}`) keeps its
description and gains the problem content. A route whose GET can answer something the rules
above do not cover declares that status in `responses=`; the content is added here.

Optional authentication (a bearer requirement without a scope: only `optional_principal`
declares one, `Authorized` always names a scope) is spelled the OpenAPI way, as an alternative
empty requirement, so clients and tools know the route works without a token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from infra.http.problems import MEDIA_TYPE, PROBLEMS, TYPE_PREFIX

FHIR_MEDIA_TYPE = "application/fhir+json"
OUTCOME_SCHEMA = {"type": "object", "required": ["resourceType", "issue"],
                  "properties": {"resourceType": {"const": "OperationOutcome"},
                                 "issue": {"type": "array", "items": {"type": "object"}}}}

SCHEMA_NAME = "ProblemDetails"
_REF = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}
_WRITES = {"post", "put", "patch", "delete"}
_METHODS = _WRITES | {"get", "head", "options", "trace"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": SCHEMA_NAME,
    "description": "RFC 9457 problem details; `type` is stable, see docs/errors.md.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "enum": sorted(TYPE_PREFIX + c for c in PROBLEMS)},
        "title": {"type": "string"},
        "status": {"type": "integer", "enum": sorted({s for s, _ in PROBLEMS.values()})},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "error": {"type": "string", "description": "The more specific error code, if any."},
        "required_scope": {"type": "string", "description": "forbidden: the scope needed."},
        "opens_at": {"type": "string", "format": "date-time",
                     "description": "join-not-open: when the video visit opens."},
        "errors": {
            "type": "array",
            "description": "validation-error: each invalid field.",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {
                    "location": {"type": "array", "items": {"type": "string"}},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "The bearer challenge.", "required": True,
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds until a retry may succeed.",
                          "required": True, "schema": {"type": "string", "pattern": r"^\d+$"}}},
}


def install_problem_responses(app: FastAPI) -> None:
    """Complete the app's OpenAPI document (generated once, on first use) with problems."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = generate()
        if fresh:
            add_problem_responses(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def add_problem_responses(document: dict[str, Any]) -> None:
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method in _METHODS:
                _document_operation(method, operation, fhir=path.startswith("/fhir/"))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[SCHEMA_NAME] = PROBLEM_SCHEMA
    used = json.dumps(document["paths"])
    for name in _FASTAPI_VALIDATION:
        if f"#/components/schemas/{name}" not in used:
            schemas.pop(name, None)


def _document_operation(method: str, operation: dict[str, Any], *, fhir: bool) -> None:
    """The problems an operation can answer; under /fhir as OperationOutcomes, and a
    request FHIR cannot apply is its 400 (infra/fhir/outcome.py)."""
    statuses = {500, 503}
    locations = {p.get("in") for p in operation.get("parameters", [])}
    if "requestBody" in operation:
        statuses |= {400, 422}
    if locations - {"cookie"}:
        statuses.add(422)
    if "path" in locations:
        statuses.add(404)
    requirements = operation.get("security", [])
    scopes = [s for requirement in requirements for v in requirement.values() for s in v]
    if requirements:
        statuses.add(401)
        if scopes:
            statuses.add(403)
        elif {} not in requirements:
            operation["security"] = [{}, *requirements]
    if method in _WRITES:
        statuses |= {404, 409, 422, 429}
    if fhir and 422 in statuses:
        statuses.add(400)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    for status in sorted(statuses | declared):
        _add_problem(responses, status, with_headers=status in statuses, fhir=fhir)


def _add_problem(responses: dict[str, Any], status: int, *, with_headers: bool,
                 fhir: bool = False) -> None:
    response = responses.setdefault(str(status), {})
    content = response.setdefault("content", {})
    if _is_fastapi_validation(content):
        content.clear()
        response.pop("description", None)
    titles = [title for code, (s, title) in PROBLEMS.items() if s == status]
    response.setdefault("description", " / ".join(titles) or "Problem")
    if fhir:
        content.pop(MEDIA_TYPE, None)
        content[FHIR_MEDIA_TYPE] = {"schema": OUTCOME_SCHEMA}
    else:
        content[MEDIA_TYPE] = {"schema": _REF}
    headers = _HEADERS.get(status) if with_headers else None
    if headers:
        response.setdefault("headers", {}).update(headers)


def _is_fastapi_validation(content: dict[str, Any]) -> bool:
    schema = content.get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))
