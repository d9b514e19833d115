"""Answers of commands: the Idempotency-Key and If-Match in, the status and headers out."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from commands.idempotency import IdempotencyKey, Outcome
from infra.http.problems import ProblemError

HEADER = "idempotency-key"


def idempotency_key(request: Request, caller: str) -> IdempotencyKey | None:
    """The request's `Idempotency-Key`, scoped to the caller; None without one."""
    key = request.headers.get(HEADER)
    return None if key is None else IdempotencyKey(caller=caller, key=key)


def answered(outcome: Outcome[Any], status: int, location: str | None = None) -> JSONResponse:
    """Serialized once by the result's own (compiled) serializer; a replay says so."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if location is not None:
        headers["Location"] = location
    return JSONResponse(outcome.result.model_dump(mode="json"), status_code=status,
                        headers=headers)


_VERSION = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def etag(version: int) -> str:
    """A record's version as a weak validator (decision 0046)."""
    return f'W/"{version}"'


def expected_version(request: Request) -> int | None:
    """The version `If-Match` expects (`W/"3"`, `"3"` or `3`); None without one or for `*`.
    Anything else matches no version: refused before anything is read."""
    given = request.headers.get("if-match")
    if given is None or given.strip() == "*":
        return None
    match = _VERSION.match(given.strip())
    if match is None:
        raise ProblemError("precondition-failed", 'If-Match takes an ETag this API gave, '
                           'such as W/"2"', error="version-mismatch")
    return int(match.group(1))
