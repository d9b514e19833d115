"""Follow the application's notification log and feed a read model in batches.

eventsourcing's ProjectionRunner does one transaction per event; a rebuild of a large read
model needs batches (docs/decisions/0006-batched-projection-runner.md). The read model
writes its rows and its tracking position in one transaction, so a crash between batches
repeats nothing and loses nothing.

An event it cannot apply stops the runner at that event, never skips it (a read model that
silently misses an event is wrong forever): after a failure it halves its batches until one
event fails alone, reports that event (FollowerHealth) and retries with backoff until the
cause is fixed; each success doubles the batch again, so a passing outage (a broker down)
costs a few small batches (docs/decisions/0036-poison-events.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from projections.ports import FollowerHealth, LogListener

log = structlog.get_logger("clinic.projections")
MAX_BACKOFF = 10.0  # seconds between attempts, doubling per failure up to this


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
                 recheck_every: float = 1.0, health: FollowerHealth | None = None) -> None:
        self.app = app
        self.read_model = read_model
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.tick_every = tick_every
        self.listener = listener
        self.recheck_every = recheck_every  # a missed ring costs at most this much lag
        self.stopping = threading.Event()
        self.health = health
        self.failures = 0  # consecutive failed attempts (the backoff grows with them)
        self.limit = batch_size  # this batch's size: halved by a failure, doubled by a success
        self.attempting = 0  # the first notification id of the batch being applied
        # Whether a failure report may be outstanding: at start, one left by an earlier
        # process (a fix deployed by restarting), cleared by the first success.
        self.reported = True

    def run_once(self) -> int:
        """Apply the next batch, if any; return how many events it held."""
        return self._apply_after(self.read_model.position(self.app.name) or 0)[0]

    def _apply_after(self, after: int) -> tuple[int, int]:
        """Apply the batch after `after`; return its size and the new position."""
        self.attempting = 0
        notifications = self.app.recorder.select_notifications(
            start=after, limit=self.limit,
            inclusive_of_start=False)
        if not notifications:
            return 0, after
        self.attempting = notifications[0].id
        events: Sequence[Any] = notifications
        if getattr(self.read_model, "wants_positions", False):  # (notification id, event)
            events = [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]
        elif not getattr(self.read_model, "wants_records", False):
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
            except Exception as exc:
                self._failed(position, exc)
                position = None
                continue
            full = applied >= self.limit
            if applied:
                self.limit = min(self.batch_size, self.limit * 2)
                if self.failures or self.reported:
                    self._recovered()
            if full:
                continue  # more is waiting
            if self.listener is None:
                if not applied:
                    self.stopping.wait(self.idle_sleep)
                continue
            until_tick = self.tick_every - (time.monotonic() - last_tick)
            self.listener.wait(rang, max(0.0, min(self.recheck_every, until_tick)))
            if self.listener.rings() != rang:
                self.stopping.wait(self.idle_sleep)  # gather the burst the ring announced

    def _failed(self, position: int | None, exc: Exception) -> None:
        """A batch failed: retry a half batch, so that a failure of one event names it."""
        isolated = self.limit == 1
        self.failures += 1
        self.limit = max(1, self.limit // 2)
        log.exception("projection failed; retrying", read_model=self.read_model.name,
                      after=position, attempt=self.failures)
        if isolated and self.attempting and self.health is not None:
            try:
                self.health.failing(self.read_model.name, self.attempting, _summary(exc))
                self.reported = True
            except Exception:
                log.exception("could not report the failure", read_model=self.read_model.name)
        self.stopping.wait(min(MAX_BACKOFF, 0.125 * 2 ** min(self.failures, 7)))

    def _recovered(self) -> None:
        was_failing, self.failures = self.failures > 0, 0
        if not self.reported or self.health is None:
            return
        if was_failing:
            log.info("projection recovered", read_model=self.read_model.name)
        try:
            self.health.recovered(self.read_model.name)
            self.reported = False
        except Exception:
            log.exception("could not report the recovery", read_model=self.read_model.name)

    def stop(self) -> None:
        self.stopping.set()


def _summary(exc: Exception) -> str:
    """The error's kind and first line, without a database error's DETAIL (which can quote
    row values)."""
    diag = getattr(exc, "diag", None)
    message = getattr(diag, "message_primary", None) or str(exc)
    return f"{type(exc).__name__}: {message.splitlines()[0] if message else ''}"[:300]
