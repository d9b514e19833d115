"""Idempotency-Key records: what a creating command answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Replay:
    body: dict[str, Any]


class KeyInFlight(Exception):
    pass


class KeyReused(Exception):
    pass


class IdempotencyRecords(Protocol):
    """What a creating command answered, per caller and Idempotency-Key, for a while."""

    def begin(self, scope: str, key: str, command: bytes) -> Replay | None:
        """None: go ahead (now in flight); a Replay: the first answer. KeyReused when
        `command` differs from the first; KeyInFlight while the first still runs."""

    def complete(self, scope: str, key: str, command: bytes, body: dict[str, Any]) -> None: ...
    def abandon(self, scope: str, key: str) -> None: ...
