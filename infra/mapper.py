"""The event mapper: stores each event with the command context that caused it.

Selected through eventsourcing's MAPPER_TOPIC setting (infra/eventstore.py). Reading an
event back gives it a `__meta__` attribute (actor, role, request_id, reason, when set).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

from commands.context import current_context

META = "__meta__"


class ClinicMapper(Mapper[UUID]):
    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if META not in vars(domain_event):
            object.__setattr__(domain_event, META, current_context().as_dict())
        return super().to_stored_event(domain_event)


def event_meta(domain_event: Any) -> dict[str, str]:
    meta: dict[str, str] = getattr(domain_event, META, {})
    return meta
