"""Log followers yield the CPU to requests: each runs in a thread at the configured nice
value, threads it starts inherit it, and the rest of the process keeps its priority
(decision 0025); and they gather events for the configured time (decision 0031)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from infra.settings import Settings
from infra.wiring import followers
from infra.wiring.followers import FollowerHost
from infra.wiring.relay import build_relay

pytestmark = pytest.mark.integration


def _nice_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class _Probe:
    """A follower that records its own thread's nice value and that of a thread it starts
    (as the listener and librdkafka do)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.done = threading.Event()
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        self.seen["follower"] = _nice_of_this_thread()
        child = threading.Thread(target=lambda: self.seen.setdefault(
            "started by it", _nice_of_this_thread()))
        child.start()
        child.join()
        self.done.set()
        self.stopping.wait(10)

    def stop(self) -> None:
        self.stopping.set()


def test_followers_run_at_the_configured_nice_value(settings: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    probe = _Probe()

    def build(_: Settings) -> tuple[Any, list[Any]]:
        return probe, []

    monkeypatch.setitem(followers.WORKERS, "probe", build)
    before = _nice_of_this_thread()
    host = FollowerHost(settings.model_copy(update={"follower_nice": 7}), ("probe",)).start()
    try:
        assert probe.done.wait(30), "the probe follower never ran"
    finally:
        host.stop()
    expected = min(19, before + 7)
    assert probe.seen == {"follower": expected, "started by it": expected}
    assert _nice_of_this_thread() == before, "the caller's own priority must not change"


def test_followers_gather_events_for_the_configured_time(settings: Settings) -> None:
    """CLINIC_FOLLOWER_GATHER_MS reaches the read-model workers and the relay (decision 0031)."""
    gathering = settings.model_copy(update={"follower_gather_ms": 70})
    runner = followers.build_runner("appointments", gathering)
    relay, closing = build_relay(gathering)
    try:
        assert runner.idle_sleep == relay.idle_sleep == pytest.approx(0.07)
    finally:
        runner.app.close()
        runner.read_model.datastore.close()  # type: ignore[attr-defined]
        for item in closing:
            item.close()
