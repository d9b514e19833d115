"""Idempotency-Key: a creating command runs once per caller and key
(docs/decisions/0009-idempotency.md).

The new aggregate's id is derived from the key, so even after the record below has expired a
retry cannot create a second aggregate; the record gives a retry the first answer again, and
refuses the key with another command (422) or while the first still runs (409).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel

from commands.ports import IdempotencyRecords, KeyInFlight, KeyReused
from domain.errors import ConflictError, InvalidInputError

IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:idempotency-key")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
R = TypeVar("R", bound=BaseModel)


class IdempotencyKeyReusedError(InvalidInputError):
    code = "idempotency-key-reused"


class IdempotencyKeyInFlightError(ConflictError):
    code = "idempotency-key-in-flight"


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's key (an HTTP `Idempotency-Key`): `caller` scopes it (a subject, or a
    pseudonym of the address for signed-out callers)."""

    caller: str
    key: str

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise InvalidInputError("Idempotency-Key must be 1-255 visible ASCII characters.")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    result: R
    replayed: bool = False  # the first answer to this key, given again


def run_once(records: IdempotencyRecords, key: IdempotencyKey | None, command_name: str,
             command: BaseModel, result_type: type[R],
             create: Callable[[UUID | None], R]) -> Outcome[R]:
    """Run `create` (given the id derived from the key) once per key.

    `command_name` scopes the keys, and the new aggregate's id is derived from it: it is the
    API's method and path (`POST /bookings`), as before the use cases left the routes, so
    that a key given before still finds its record and its id, whichever door repeats it."""
    if key is None:
        return Outcome(create(None))
    scope = f"{key.caller}:{command_name.replace(' ', ':', 1)}"
    body = f"{command_name}\n".encode() + command.model_dump_json().encode()
    try:
        replay = records.begin(scope, key.key, body)
    except KeyReused:
        raise IdempotencyKeyReusedError("This Idempotency-Key was used with a different "
                                        "request body.") from None
    except KeyInFlight:
        raise IdempotencyKeyInFlightError("A request with this Idempotency-Key is still "
                                          "being processed; retry shortly.",
                                          retry_after=1) from None
    if replay is not None:
        return Outcome(result_type.model_validate(replay.body), replayed=True)
    try:
        result = create(uuid5(IDEMPOTENCY_NAMESPACE, f"{scope}:{key.key}"))
    except Exception:  # a domain refusal or a crash: the key may be used again
        records.abandon(scope, key.key)
        raise
    records.complete(scope, key.key, body, result.model_dump(mode="json"))
    return Outcome(result)
