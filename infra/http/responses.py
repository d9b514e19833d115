"""Answers of creating commands: the Idempotency-Key in, the status and headers out."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from commands.idempotency import IdempotencyKey, Outcome

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
