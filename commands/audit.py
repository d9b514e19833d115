"""What a compliance officer asks of the event log: any record as it stood at a moment, and
what changed since, each change with who, why and for which purpose (docs/compliance.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from commands.application import ClinicApplication
from commands.context import context_of
from domain.errors import NotFoundError


@dataclass(frozen=True)
class Change:
    version: int
    recorded_at: datetime
    event: str  # the event's type, e.g. "Appointment.Rescheduled"
    actor: str
    role: str
    purpose: str
    reason: str
    request_id: str


@dataclass(frozen=True)
class PastState:
    aggregate_id: UUID
    kind: str
    as_of: datetime
    version: int  # the aggregate's version at `as_of`
    state: dict[str, Any]  # its attributes then (a shredded patient's PHI reads as erased)
    changes_since: list[Change]


class Audit:
    def __init__(self, app: ClinicApplication) -> None:
        self.app = app

    def state_at(self, aggregate_id: UUID, as_of: datetime) -> PastState:
        """Rebuilt from its own events up to `as_of` (any aggregate type)."""
        events: list[Any] = list(self.app.events.get(aggregate_id))
        if not events:
            raise NotFoundError(f"no record with id {aggregate_id}")
        then = [e for e in events if e.timestamp <= as_of]
        if not then:
            raise NotFoundError(f"record {aggregate_id} did not exist yet then")
        aggregate: Any = None
        for event in then:
            aggregate = event.mutate(aggregate)
        return PastState(aggregate_id, type(aggregate).__name__, as_of, aggregate.version,
                         _plain(vars(aggregate)), [_change(e) for e in events[len(then):]])


def _change(event: Any) -> Change:
    meta = context_of(event)
    return Change(event.originator_version, event.timestamp, type(event).__qualname__,
                  meta.get("actor", ""), meta.get("role", ""), meta.get("purpose", ""),
                  meta.get("reason", ""), meta.get("request_id", ""))


def _plain(attributes: dict[str, Any]) -> dict[str, Any]:
    """The aggregate's own attributes as JSON-ready values (eventsourcing's bookkeeping,
    underscored, left out)."""
    return {name: _value(value) for name, value in attributes.items()
            if not name.startswith("_")}


def _value(value: Any) -> Any:
    if isinstance(value, UUID | datetime | date):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_value(v) for v in value]
    return value
