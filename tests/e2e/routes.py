"""What each operation requires, read from the app's OpenAPI document, and what
docs/access.md says. Framework routes (docs, schema) are not in the document."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from domain.access import Scope, roles_with

ACCESS_DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"
FRAMEWORK_ROUTES = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"),
                    ("GET", "/redoc")}


def route_access(openapi: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> 'public' or the comma-separated roles allowed by its scope."""
    access: dict[tuple[str, str], str] = {}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            scopes = [s for req in operation.get("security", []) for v in req.values() for s in v]
            if not scopes:
                allowed = "public"
            else:
                assert len(scopes) == 1, f"{method} {path} asks for more than one scope"
                allowed = ", ".join(r.value for r in roles_with(Scope(scopes[0])))
            access[(method.upper(), path)] = allowed
    return access


def documented_access() -> dict[tuple[str, str], str]:
    rows: dict[tuple[str, str], str] = {}
    pattern = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|\s*([^|]+)\|")
    for line in ACCESS_DOC.read_text().splitlines():
        match = pattern.match(line)
        if match:
            method, path, roles = match.groups()
            rows[(method, path)] = roles.strip()
    return rows
