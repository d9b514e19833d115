"""Follow the application's notification log and feed a read model in batches.

eventsourcing's ProjectionRunner does one transaction per event; a rebuild of a large read
model needs batches (docs/decisions/0006-batched-projection-runner.md). The read model
writes its rows and its tracking position in one transaction, so a crash between batches
repeats nothing and loses nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

log = structlog.get_logger("clinic.projections")


class ReadModel(Protocol):
    @property
    def name(self) -> str: ...

    def position(self, application_name: str) -> int | None:
        """The last notification id applied, or None before the first."""

    def process(self, events: Sequence[Any], tracking: Tracking) -> None:
        """Apply the events and record `tracking`, in one transaction."""

    def tick(self) -> None:
        """Time-driven upkeep (e.g. roll the booking horizon forward); idempotent."""

    def reset(self) -> None:
        """Drop every row and the tracking position: the next run rebuilds from zero."""


class CatchUpRunner:
    def __init__(self, app: Application[Any], read_model: ReadModel, *,
                 batch_size: int = 500, idle_sleep: float = 0.02,
                 tick_every: float = 300.0) -> None:
        self.app = app
        self.read_model = read_model
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.tick_every = tick_every
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Apply the next batch, if any; return how many events it held."""
        after = self.read_model.position(self.app.name) or 0
        notifications = self.app.recorder.select_notifications(
            start=after, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            return 0
        events = [self.app.mapper.to_domain_event(n) for n in notifications]
        self.read_model.process(events, Tracking(self.app.name, notifications[-1].id))
        return len(events)

    def catch_up(self) -> int:
        """Apply everything recorded so far; return the number of events applied."""
        total = 0
        while applied := self.run_once():
            total += applied
        return total

    def run_forever(self) -> None:
        last_tick = 0.0
        while not self.stopping.is_set():
            if time.monotonic() - last_tick >= self.tick_every:
                self.read_model.tick()
                last_tick = time.monotonic()
            try:
                if not self.run_once():
                    self.stopping.wait(self.idle_sleep)
            except Exception:
                log.exception("projection batch failed; retrying", read_model=self.read_model.name)
                self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()
