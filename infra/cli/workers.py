"""Long-running CLI commands: run workers until SIGINT or SIGTERM, then stop them in order."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from typing import Any

from infra.cli.errors import load_settings
from infra.observability.logging import configure_logging
from infra.observability.tracing import configure_tracing
from infra.settings import Settings
from infra.wiring.followers import PROJECTORS, FollowerHost, Worker


def until_signal() -> threading.Event:
    """Set by the first SIGINT or SIGTERM (install before starting anything)."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done


def role_started(role: str) -> tuple[Settings, threading.Event]:
    """A long-running role's start: its settings, logs, traces named for it, and the event
    the first SIGINT or SIGTERM sets."""
    settings = load_settings()
    configure_logging(settings.log_level)
    configure_tracing(role)
    return settings, until_signal()


def host_until(done: threading.Event, settings: Settings,
               names: tuple[str, ...] = PROJECTORS) -> None:
    """The named log followers, one active instance each (advisory locks)."""
    host = FollowerHost(settings, names).start()
    done.wait()
    host.stop()


def worker_until(done: threading.Event, worker: Worker, resources: Iterable[Any]) -> None:
    """One worker in a thread of its own, then what it used, closed."""
    thread = threading.Thread(target=worker.run_forever, name="worker", daemon=True)
    thread.start()
    try:
        done.wait()
        worker.stop()
        thread.join(timeout=30)
    finally:
        close_all(resources)


def close_all(resources: Iterable[Any]) -> None:
    for resource in resources:
        resource.close()
