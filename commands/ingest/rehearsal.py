"""Deciding rows on the aggregates in memory before (or instead of) recording them: the
directory's own use cases run over an event store that keeps what they save instead of
recording it (dry runs, all-or-nothing, rows that add hours: decision 0067)."""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Recording

from commands.application import ClinicApplication


class Rehearsal(ClinicApplication):
    """Reads the real store, plus what was saved here (which later reads see); records
    nothing. A save that does not follow the stored version is refused as the store would
    refuse it, so a use case's re-read-and-retry works the same here."""

    def __init__(self, store: ClinicApplication) -> None:  # nothing of its own to open
        self.store = store
        self.data_keys = None
        self.kept: dict[UUID, list[Any]] = {}  # every event of each aggregate saved here

    def streams(self, *aggregate_ids: UUID) -> dict[UUID, list[Any]]:
        unseen = [i for i in dict.fromkeys(aggregate_ids) if i not in self.kept]
        found = dict(self.store.streams(*unseen)) if unseen else {}
        for aggregate_id in aggregate_ids:
            if aggregate_id in self.kept:  # a copy: replaying may not touch what is kept
                found[aggregate_id] = copy.deepcopy(self.kept[aggregate_id])
        return found

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        new = {o.id: o.collect_events() for o in objs if o is not None}
        new = {aggregate_id: events for aggregate_id, events in new.items() if events}
        streams = {i: self.kept[i] for i in new if i in self.kept}
        unseen = [i for i in new if i not in streams]
        streams |= self.store.streams(*unseen) if unseen else {}
        for aggregate_id, events in new.items():
            before = streams.get(aggregate_id, [])
            if events[0].originator_version != (before[-1].originator_version
                                                if before else 0) + 1:
                raise IntegrityError(f"aggregate {aggregate_id} changed meanwhile")
        for aggregate_id, events in new.items():
            self.kept[aggregate_id] = [*streams.get(aggregate_id, []), *events]
        return []

    def clear(self) -> None:
        """Forget what was saved here (once the store holds the truth again)."""
        self.kept.clear()

    def close(self) -> None:
        """Nothing to close: the store is the caller's."""
