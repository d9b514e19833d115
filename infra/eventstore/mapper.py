"""The event mapper: stores each event with the command context that caused it, and its PHI
sealed with the patient's own data key.

Selected through eventsourcing's MAPPER_TOPIC setting (infra/eventstore/recorder.py); the
application hands it the PhiCipher (infra/eventstore/application.protect). Reading an event
back gives it a `__meta__` attribute (actor, role, request_id, reason, purpose and, when
tracing is on, the W3C `traceparent` / `tracestate` of the span that saved it: the relay
continues that trace) and its PHI in the clear, or as `[erased]` once the patient's key was
shredded. Snapshots are sealed the same way.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from commands.context import current_context
from domain.privacy import PHI, SELF, phi_of
from domain.provenance import METADATA, context_of
from infra.crypto.phi import PhiCipher
from infra.observability.tracing import trace_context

META = METADATA


class PhiCipherMissingError(RuntimeError):
    pass


class ClinicMapper(Mapper[UUID]):
    phi: PhiCipher | None = None
    # False for followers that never need PHI (the relay, slot search, the offers): events are
    # read with their PHI still sealed, which saves a decryption (and a key lookup) per field.
    open_phi: bool = True

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if META not in vars(domain_event):
            object.__setattr__(domain_event, META,
                               current_context().as_dict() | trace_context())
        target = _phi_target(domain_event)
        if target is not None:
            if not self.open_phi:
                raise PhiCipherMissingError("this application reads PHI sealed: it cannot "
                                            "record events that carry PHI")
            declaration, _ = target
            sealed = object.__new__(type(domain_event))
            state = dict(vars(domain_event))
            record = state if not isinstance(domain_event, Snapshot) else dict(state["state"])
            self._cipher().seal_fields(record, declaration,
                                       _subject(domain_event, declaration, record),
                                       _context(get_topic(type(domain_event)), domain_event))
            if isinstance(domain_event, Snapshot):
                state["state"] = record
            object.__setattr__(sealed, "__dict__", state)
            domain_event = sealed
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event = super().to_domain_event(stored_event)
        target = _phi_target(domain_event)
        if target is not None and not self.open_phi:
            PhiCipher.leave_sealed(target[1], target[0])
        elif target is not None:
            declaration, record = target
            # The stored topic: a class renamed later still opens what it sealed.
            self._cipher().open_fields(record, declaration,
                                       _subject(domain_event, declaration, record),
                                       _context(stored_event.topic, domain_event))
        return domain_event

    def _cipher(self) -> PhiCipher:
        if self.phi is None:
            raise PhiCipherMissingError("this application has no PHI cipher: build it with "
                                        "infra.eventstore.application.build_application")
        return self.phi


def _phi_target(domain_event: Any) -> tuple[PHI, dict[str, Any]] | None:
    """The PHI declaration that applies and the state dict holding the fields."""
    if isinstance(domain_event, Snapshot):
        declaration = phi_of(resolve_topic(domain_event.topic))
        record: dict[str, Any] = vars(domain_event)["state"]
    else:
        declaration = phi_of(type(domain_event))
        record = vars(domain_event)
    return (declaration, record) if declaration is not None else None


def _subject(domain_event: Any, declaration: PHI, record: dict[str, Any]) -> Any:
    """The patient whose key seals this record."""
    if declaration.subject == SELF:
        return domain_event.originator_id
    return record.get(declaration.subject)


def _context(topic: str, domain_event: Any) -> str:
    """Associated data: the envelope opens only inside the record it was sealed for."""
    return f"{topic}:{domain_event.originator_id}:{domain_event.originator_version}"


def event_meta(domain_event: Any) -> dict[str, str]:
    return context_of(domain_event)
