"""What a compliance officer asks of the event log: any record as it stood at a moment, and
what changed since, each change with who, why and for which purpose (docs/compliance.md).
PHI only when the officer states a purpose, and then that look is an audited read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from commands.application import ClinicApplication
from commands.context import Actor
from commands.ports import AccessTrail, AuditEntry
from domain.access import PurposeOfUse
from domain.errors import NotFoundError
from domain.privacy import SELF, phi_of
from domain.provenance import context_of

WITHHELD = "[withheld: state a purpose of use to see PHI]"
PHI_SHOWN = "phi-shown"  # the detail of the access record an officer's look at PHI leaves


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
    def __init__(self, app: ClinicApplication, trail: AccessTrail) -> None:
        self.app, self.trail = app, trail

    def state_at(self, aggregate_id: UUID, as_of: datetime, actor: Actor, *,
                 show_phi_for: PurposeOfUse | None = None,
                 door: str = "audit state") -> PastState:
        """Rebuilt from its own events up to `as_of` (any aggregate type); its PHI withheld
        unless `show_phi_for` states why it is needed (then recorded as a read)."""
        aggregate, since = self.app.as_of(aggregate_id, as_of)
        if aggregate is None:
            raise NotFoundError(f"record {aggregate_id} did not exist yet then")
        state = plain_state(vars(aggregate))
        phi = _phi_fields(type(aggregate))
        if show_phi_for is None:
            state.update({name: WITHHELD for name in phi if state.get(name)})
        elif phi:
            patient = aggregate.id if _subject(type(aggregate)) == SELF else getattr(
                aggregate, _subject(type(aggregate)))
            self.trail.record(phi_shown(actor, show_phi_for, door, patient, aggregate.id))
        return PastState(aggregate_id, type(aggregate).__name__, as_of, aggregate.version,
                         state, [_change(e) for e in since])


def phi_shown(actor: Actor, purpose: PurposeOfUse, door: str, patient_id: UUID,
              record_id: object) -> AuditEntry:
    """The access record of an officer's look at one patient's PHI in the event log."""
    return AuditEntry(actor=actor.subject, role=actor.role.value if actor.role else "system",
                      action="read", resource=door, purpose=purpose.value, outcome="allowed",
                      status=200, request_id=actor.request_id, patient_id=patient_id,
                      record_id=str(record_id), detail=PHI_SHOWN)


def _phi_fields(kind: type[Any]) -> frozenset[str]:
    """Every PHI attribute a record of this kind may hold: its own declaration's, and its
    events' (a cancellation's note)."""
    declared = [phi_of(kind), *(phi_of(member) for member in vars(kind).values()
                                if isinstance(member, type))]
    return frozenset().union(*(d.fields for d in declared if d is not None))


def _subject(kind: type[Any]) -> str:
    declared = phi_of(kind)
    return declared.subject if declared else SELF


def _change(event: Any) -> Change:
    meta = context_of(event)
    return Change(event.originator_version, event.timestamp, type(event).__qualname__,
                  meta.get("actor", ""), meta.get("role", ""), meta.get("purpose", ""),
                  meta.get("reason", ""), meta.get("request_id", ""))


def plain_state(attributes: dict[str, Any]) -> dict[str, Any]:
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
