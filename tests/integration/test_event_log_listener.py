"""Followers sleep until the event log grows (LISTEN/NOTIFY), instead of polling it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.eventstore.log_listener import EventLogListener
from infra.postgres.read_models import slot_search_read_model
from infra.postgres.slot_search import SlotSearchReadModel
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.builders import build_world
from tests.driver import drive


@pytest.fixture
def read_model(container: Container) -> Iterator[SlotSearchReadModel]:
    settings = container.settings
    assert settings.database_url
    model = slot_search_read_model(settings.database_url, settings.db_schema)
    yield model
    model.datastore.close()


def _until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_the_listener_rings_when_events_are_recorded(container: Container) -> None:
    bell = EventLogListener(container.app.recorder)
    try:
        assert _until(lambda: bell.rings() >= 1, 5)  # the ring after connecting
        before = bell.rings()
        build_world(drive(container))
        bell.wait(before, timeout=5)
        assert bell.rings() > before
    finally:
        bell.close()


def test_an_idle_runner_does_not_poll_and_wakes_on_news(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    bell = EventLogListener(container.app.recorder)
    # A recheck far beyond the test's waits: only the ring can wake the runner in time.
    runner = CatchUpRunner(container.app, read_model, listener=bell, recheck_every=60)
    selects = 0
    select = container.app.recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal selects
        selects += 1
        return select(*args, **kwargs)

    container.app.recorder.select_notifications = counted  # type: ignore[method-assign]
    thread = threading.Thread(target=runner.run_forever, daemon=True)
    thread.start()
    try:
        assert _until(lambda: selects >= 1, 5)
        time.sleep(1.0)
        idle_selects = selects
        assert idle_selects <= 2, f"{idle_selects} reads of the log while nothing happened"

        build_world(drive(container))
        head = container.app.recorder.max_notification_id()
        assert _until(lambda: read_model.position(container.app.name) == head, 10), \
            "the runner did not wake when events were recorded"
    finally:
        runner.stop()
        bell.close()
        thread.join(5)
