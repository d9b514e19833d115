"""What every group of use cases relies on: the application's save, and reading aggregates
(several in one query: `_get_many`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from commands.ports import ReadsManyStreams
from domain.errors import NotFoundError

A = TypeVar("A", bound=Aggregate)


class UseCases(Application[UUID]):
    def _get(self, kind: type[A], aggregate_id: UUID, label: str) -> A:
        """The `kind` aggregate with this id, or NotFoundError naming the `label`."""
        return self._found(self._get_many(aggregate_id), kind, aggregate_id, label)

    def _find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The `kind` aggregate with this id, or None."""
        aggregate = self._get_many(aggregate_id).get(aggregate_id)
        return aggregate if isinstance(aggregate, kind) else None

    @staticmethod
    def _found(loaded: dict[UUID, Any], kind: type[A], aggregate_id: UUID, label: str) -> A:
        """The `kind` aggregate with this id among those loaded, or NotFoundError."""
        aggregate = loaded.get(aggregate_id)
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"no {label} with id {aggregate_id}")
        return aggregate

    def _get_many(self, *aggregate_ids: UUID) -> dict[UUID, Any]:
        """The aggregates that exist among these ids, read together: a command that decides
        on several (a booking: patient, consents, calendars) waits for one query, not one
        each. Every read of the use cases comes through here, not through eventsourcing's
        Repository.get (docs/decisions/0027-one-read-per-command.md)."""
        if isinstance(self.recorder, ReadsManyStreams):
            stored: Sequence[StoredEvent] = self.recorder.select_events_of(aggregate_ids)
        else:  # in-memory and other recorders: one read per aggregate
            stored = [event for aggregate_id in aggregate_ids
                      for event in self.recorder.select_events(aggregate_id)]
        streams: defaultdict[UUID, list[Any]] = defaultdict(list)
        for record in stored:
            event = self.mapper.to_domain_event(record)
            streams[event.originator_id].append(event)
        found: dict[UUID, Any] = {}
        for aggregate_id, events in streams.items():
            # eventsourcing's project_aggregate, less its per-event isinstance check of a
            # runtime Protocol (slow on Python 3.11: a tenth of a booking's CPU).
            aggregate = None
            for event in events:
                aggregate = event.mutate(aggregate)
            if aggregate is not None:
                found[aggregate_id] = aggregate
        return found
