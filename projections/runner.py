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

from projections.ports import LogListener

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
    """With a listener, an idle runner costs nothing: it sleeps until the log grows, then
    waits `idle_sleep` more so that a burst of commits becomes one batch. Without one, it
    polls every `idle_sleep` (in-memory stores, tests)."""

    def __init__(self, app: Application[Any], read_model: ReadModel, *,
                 batch_size: int = 500, idle_sleep: float = 0.02,
                 tick_every: float = 300.0, listener: LogListener | None = None,
                 recheck_every: float = 1.0) -> None:
        self.app = app
        self.read_model = read_model
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.tick_every = tick_every
        self.listener = listener
        self.recheck_every = recheck_every  # a missed ring costs at most this much lag
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Apply the next batch, if any; return how many events it held."""
        return self._apply_after(self.read_model.position(self.app.name) or 0)[0]

    def _apply_after(self, after: int) -> tuple[int, int]:
        """Apply the batch after `after`; return its size and the new position."""
        notifications = self.app.recorder.select_notifications(
            start=after, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            return 0, after
        events = [self.app.mapper.to_domain_event(n) for n in notifications]
        self.read_model.process(events, Tracking(self.app.name, notifications[-1].id))
        return len(events), notifications[-1].id

    def catch_up(self) -> int:
        """Apply everything recorded so far; return the number of events applied."""
        total = 0
        while applied := self.run_once():
            total += applied
        return total

    def run_forever(self) -> None:
        """Follow the log until stop(). The position is read once and then kept in memory:
        while this runner holds its worker lock (infra/wiring/followers.py), nothing else moves it.
        After a failure it is read again."""
        last_tick = 0.0
        position: int | None = None
        while not self.stopping.is_set():
            if time.monotonic() - last_tick >= self.tick_every:
                self.read_model.tick()
                last_tick = time.monotonic()
            rang = self.listener.rings() if self.listener else 0
            try:
                if position is None:
                    position = self.read_model.position(self.app.name) or 0
                applied, position = self._apply_after(position)
            except Exception:
                position = None
                log.exception("projection batch failed; retrying", read_model=self.read_model.name)
                self.stopping.wait(1.0)
                continue
            if applied >= self.batch_size:
                continue  # more is waiting
            if self.listener is None:
                if not applied:
                    self.stopping.wait(self.idle_sleep)
                continue
            until_tick = self.tick_every - (time.monotonic() - last_tick)
            self.listener.wait(rang, max(0.0, min(self.recheck_every, until_tick)))
            if self.listener.rings() != rang:
                self.stopping.wait(self.idle_sleep)  # gather the burst the ring announced

    def stop(self) -> None:
        self.stopping.set()
