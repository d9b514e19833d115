"""What projectors need from the outside world, as small interfaces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID


@dataclass(frozen=True)
class OutboundMessage:
    """One message for the broker: ids and times only, never PHI."""

    topic: str
    key: bytes
    value: bytes
    headers: dict[str, bytes] = field(default_factory=dict)


class PublishError(Exception):
    """The broker did not acknowledge every message: the caller must not advance."""


class MessagePublisher(Protocol):
    def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Return only when every message is acknowledged; raise PublishError otherwise."""

    def ready(self) -> bool:
        """Whether the broker (or local sink) can take messages now."""

    def close(self) -> None: ...


class LogListener(Protocol):
    """Rings whenever the event log may have grown, so followers sleep until there is news
    instead of polling the database (infra/eventstore/log_listener.py: PostgreSQL LISTEN/NOTIFY)."""

    def rings(self) -> int:
        """How many times it has rung so far."""

    def wait(self, after: int, timeout: float) -> None:
        """Return once it has rung more than `after` times, or after `timeout` seconds."""


class FollowerHealth(Protocol):
    """Where a follower says it is stuck, for /readyz, `clinic projections status` and the
    alerts (infra/postgres/follower_health.py)."""

    def failing(self, follower: str, position: int, error: str) -> None:
        """It cannot apply the event at notification id `position`; `error` says why."""

    def recovered(self, follower: str) -> None:
        """It moved past the position it reported failing at."""


class Aggregates(Protocol):
    """Reads aggregates as they are now (the event store: commands.application)."""

    def get_many(self, *aggregate_ids: UUID) -> dict[UUID, Any]:
        """The aggregates that exist among these ids, read together."""


class SignInCodes(Protocol):
    def issue(self, subject: UUID) -> str:
        """A new one-time code for the patient (stored hashed; infra/redis)."""
