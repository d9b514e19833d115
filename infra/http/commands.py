"""Running commands from HTTP: who acts (event metadata), rate limits, idempotency."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from commands.context import CommandContext, acting_as
from infra.auth.tokens import Principal
from infra.cache.idempotency import KeyInFlightError, KeyReusedError
from infra.container import Container
from infra.http.audit import purpose_of
from infra.http.problems import ProblemError
from infra.http.request_context import request_id_of

IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:idempotency-key")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@contextmanager
def acting(request: Request, principal: Principal | None, reason: str) -> Iterator[None]:
    """Record who acts, in which role, for which request, doing what (`reason`) and for
    which purpose of use (`X-Purpose-Of-Use`), on every event saved."""
    context = CommandContext(
        actor=principal.subject if principal else "anonymous",
        role=principal.role.value if principal else "anonymous",
        request_id=request_id_of(request),
        reason=reason,
        purpose=purpose_of(request, principal).value,
    )
    with acting_as(context):
        yield


Limit = tuple[str, str, int, int]  # bucket, key, hits allowed, window in seconds


def rate_limit(container: Container, *limits: Limit) -> None:
    """Count this request in every limit (one Redis round trip); 429 if any is exceeded."""
    scale = container.settings.rate_limit_scale
    retry_after = container.limits.hit_all(
        [(bucket, key, max(1, int(limit * scale)), window) for bucket, key, limit, window
         in limits])
    if retry_after is not None:
        raise ProblemError("rate-limited", f"Too many attempts; try again in {retry_after}s.",
                           headers={"Retry-After": str(retry_after)})


def idempotent_create(request: Request, container: Container, caller: str, body: Any,
                      create: Callable[[UUID | None], tuple[int, Any]]) -> JSONResponse:
    """Run `create` once per Idempotency-Key: a retry gets the first answer again."""
    key = request.headers.get("idempotency-key")
    if key is None:
        status, payload = create(None)
        return JSONResponse(_encoded(payload), status_code=status)
    if not _KEY.match(key):
        raise ProblemError("validation-error", "Idempotency-Key must be 1-255 visible "
                           "ASCII characters.")
    scope = f"{caller}:{request.method}:{request.url.path}"
    body_print = container.idempotency.fingerprint(request.method, request.url.path,
                         body.model_dump_json().encode() if hasattr(body, "model_dump_json")
                         else b"")
    try:
        replay = container.idempotency.begin(scope, key, body_print)
    except KeyReusedError:
        raise ProblemError("validation-error", "This Idempotency-Key was used with a "
                           "different request body.", error="idempotency-key-reused") from None
    except KeyInFlightError:
        raise ProblemError("conflict", "A request with this Idempotency-Key is still being "
                           "processed; retry shortly.", error="idempotency-key-in-flight",
                           headers={"Retry-After": "1"}) from None
    if replay is not None:
        return JSONResponse(replay.body, status_code=replay.status,
                            headers={"Idempotent-Replayed": "true"})
    try:
        status, payload = create(uuid5(IDEMPOTENCY_NAMESPACE, f"{scope}:{key}"))
    except Exception:  # a domain refusal or a crash: the key may be used again
        container.idempotency.abandon(scope, key)
        raise
    encoded = _encoded(payload)
    container.idempotency.complete(scope, key, body_print, status, encoded)
    return JSONResponse(encoded, status_code=status)


def _encoded(payload: Any) -> Any:
    """JSON-ready: a pydantic model by its own (compiled) serializer, anything else by
    FastAPI's generic encoder."""
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    return jsonable_encoder(payload)
