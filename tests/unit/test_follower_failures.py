"""A log follower that cannot apply an event (issue "Hardening", item 1): it narrows the
failing batch to that one event, reports it with its position, never skips it, and moves on
by itself once the cause is gone. In-memory event store; the PostgreSQL side of the report is
tests/integration/test_poison_events.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking

from projections.runner import CatchUpRunner


class Note(Aggregate):
    def __init__(self, n: int) -> None:
        self.n = n


class Model:
    name = "notes"

    def __init__(self, poison: int) -> None:
        self.poison, self.broken = poison, True
        self.applied: list[int] = []
        self.at: int | None = None

    def position(self, application_name: str) -> int | None:
        return self.at

    def process(self, events: Sequence[Any], tracking: Tracking) -> None:
        numbers = [event.n for event in events]
        if self.broken and self.poison in numbers:
            raise ValueError("PostgreSQL text fields cannot contain NUL bytes")
        self.applied.extend(numbers)  # all or nothing, like one transaction
        self.at = tracking.notification_id

    def tick(self) -> None: ...
    def reset(self) -> None: ...


class Health:
    def __init__(self) -> None:
        self.reports: list[tuple[str, Any, ...]] = []

    def failing(self, follower: str, position: int, error: str) -> None:
        self.reports.append(("failing", follower, position, error))

    def recovered(self, follower: str) -> None:
        self.reports.append(("recovered", follower))


def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


def test_a_poison_event_is_named_never_skipped_and_passed_once_fixed() -> None:
    app: Application[Any] = Application()
    for n in range(1, 31):
        app.save(Note(n))
    model, health = Model(poison=17), Health()
    runner = CatchUpRunner(app, model, batch_size=10, idle_sleep=0.01, health=health)
    thread = threading.Thread(target=runner.run_forever, daemon=True)
    thread.start()
    try:
        _until(lambda: any(r[0] == "failing" for r in health.reports))
        # The first success clears whatever an earlier process left reported; then the
        # poison event is named.
        assert health.reports[0] == ("recovered", "notes")
        assert health.reports[1] == ("failing", "notes", 17,
                                     "ValueError: PostgreSQL text fields cannot contain NUL "
                                     "bytes")
        assert model.applied == list(range(1, 17))  # up to the poison event, none after it
        model.broken = False  # the cause is fixed (e.g. a release that can store it)
        _until(lambda: model.applied[-1:] == [30])
    finally:
        runner.stop()
        thread.join(5)
    assert model.applied == list(range(1, 31))
    assert health.reports[-1] == ("recovered", "notes")
