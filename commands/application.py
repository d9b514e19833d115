"""The booking engine's one event-sourced application: the event store every use case shares.

One application (one `clinic_events` table), so that a booking and the provider's calendars
save atomically. It only reads and saves aggregates; the use cases (commands/*.py) decide.
Build it with infra.eventstore.application.build_application (it wires the PHI cipher).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent

from commands.ports import PersonalDataKeys, ReadsManyStreams
from domain.errors import NotFoundError

A = TypeVar("A", bound=Aggregate)


class ClinicApplication(Application[UUID]):
    name = "clinic"
    # Snapshots are off. Use cases read every aggregate from its events in one query
    # (get_many, decision 0027), which does not look for snapshots: turning them on
    # (IS_SNAPSHOTTING_ENABLED=y; they are sealed like events) would only add writes.

    def __init__(self, env: Any = None, *, data_keys: PersonalDataKeys | None = None) -> None:
        super().__init__(env=env)
        self.data_keys = data_keys  # the keys that seal each patient's PHI in these events

    def get(self, kind: type[A], aggregate_id: UUID, label: str) -> A:
        """The `kind` aggregate with this id, or NotFoundError naming the `label`."""
        return found(self.get_many(aggregate_id), kind, aggregate_id, label)

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The `kind` aggregate with this id, or None."""
        aggregate = self.get_many(aggregate_id).get(aggregate_id)
        return aggregate if isinstance(aggregate, kind) else None

    def get_many(self, *aggregate_ids: UUID) -> dict[UUID, Any]:
        """The aggregates that exist among these ids, read together: a command that decides
        on several (a booking: patient, consents, calendars) waits for one query, not one
        each. Every read of the use cases comes through here, not through eventsourcing's
        Repository.get (docs/decisions/0027-one-read-per-command.md). An id asked for twice
        is read once."""
        aggregates: dict[UUID, Any] = {}
        for aggregate_id, events in self.streams(*aggregate_ids).items():
            # eventsourcing's project_aggregate, less its per-event isinstance check of a
            # runtime Protocol (slow on Python 3.11: a tenth of a booking's CPU).
            aggregate = None
            for event in events:
                aggregate = event.mutate(aggregate)
            if aggregate is not None:
                aggregates[aggregate_id] = aggregate
        return aggregates

    def streams(self, *aggregate_ids: UUID) -> dict[UUID, list[Any]]:
        """Every event of these aggregates, in order, read in one query."""
        aggregate_ids = tuple(dict.fromkeys(aggregate_ids))
        if isinstance(self.recorder, ReadsManyStreams):
            stored: Sequence[StoredEvent] = self.recorder.select_events_of(aggregate_ids)
        else:  # in-memory and other recorders: one read per aggregate
            stored = [event for aggregate_id in aggregate_ids
                      for event in self.recorder.select_events(aggregate_id)]
        streams: defaultdict[UUID, list[Any]] = defaultdict(list)
        for record in stored:
            event = self.mapper.to_domain_event(record)
            streams[event.originator_id].append(event)
        return streams

    def as_of(self, aggregate_id: UUID, moment: datetime) -> tuple[Any, list[Any]]:
        """The aggregate as it stood at `moment`, rebuilt from its events up to then (None
        if it did not exist yet), and its events since; NotFoundError if it never existed."""
        events: list[Any] = list(self.events.get(aggregate_id))
        if not events:
            raise NotFoundError(f"no record with id {aggregate_id}")
        then = [event for event in events if event.timestamp <= moment]
        aggregate: Any = None
        for event in then:
            aggregate = event.mutate(aggregate)
        return aggregate, events[len(then):]

    def saved(self, *aggregates: Aggregate) -> bool:
        """Save atomically; False when another writer got there first (re-read and retry)."""
        try:
            self.save(*aggregates)
        except IntegrityError:
            return False
        return True

    def close(self) -> None:
        super().close()
        if self.data_keys is not None:
            self.data_keys.close()


def found(loaded: dict[UUID, Any], kind: type[A], aggregate_id: UUID, label: str) -> A:
    """The `kind` aggregate with this id among those loaded, or NotFoundError."""
    aggregate = loaded.get(aggregate_id)
    if not isinstance(aggregate, kind):
        raise NotFoundError(f"no {label} with id {aggregate_id}")
    return aggregate
