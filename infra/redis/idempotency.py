"""Idempotency-Key records (IETF httpapi-idempotency-key-header semantics) in Redis.

The first request with a key is recorded as in flight; its response is kept for 24 hours.
A retry with the same body gets that response again; with another body, 422; while the
first is still in flight, 409. The event store backs this up: creating commands derive the
new aggregate's id from the key, so a retry after the record expired still cannot create a
second aggregate.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from commands.ports import KeyInFlight, KeyReused, Replay
from infra.crypto.derived_keys import keyed_hash

IN_FLIGHT_SECONDS = 60
KEEP_SECONDS = 24 * 3600


class IdempotencyRecords:
    def __init__(self, client: redis.Redis, pseudonym_key: bytes) -> None:
        self.client = client
        self.pseudonym_key = pseudonym_key

    def fingerprint(self, command: bytes) -> str:
        """A keyed hash of the command: commands hold PHI, and an unkeyed hash of a name
        and birth date can be guessed."""
        return keyed_hash(self.pseudonym_key, command)

    def begin(self, scope: str, key: str, command: bytes) -> Replay | None:
        """None: go ahead (now in flight). A Replay: answer with it. Raises on misuse."""
        name, fingerprint = self._name(scope, key), self.fingerprint(command)
        record = json.dumps({"state": "in-flight", "fingerprint": fingerprint})
        if self.client.set(name, record, nx=True, ex=IN_FLIGHT_SECONDS):
            return None
        raw = self.client.get(name)
        if raw is None:  # expired between the two calls: try once more
            return self.begin(scope, key, command)
        stored = json.loads(raw)
        if stored["fingerprint"] != fingerprint:
            raise KeyReused
        if stored["state"] == "in-flight":
            raise KeyInFlight
        return Replay(stored["body"])

    def complete(self, scope: str, key: str, command: bytes, body: dict[str, Any]) -> None:
        record = {"state": "done", "fingerprint": self.fingerprint(command),
                  "body": body}
        self.client.set(self._name(scope, key), json.dumps(record, default=str),
                        ex=KEEP_SECONDS)

    def abandon(self, scope: str, key: str) -> None:
        """The first attempt failed: the key may be used again."""
        self.client.delete(self._name(scope, key))

    def _name(self, scope: str, key: str) -> str:
        """Keyed: the scope names the caller (an id, or an address for registrations)."""
        return "idem:" + keyed_hash(self.pseudonym_key, f"{scope}\x00{key}")
