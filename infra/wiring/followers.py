"""Run the log followers: read-model projectors, the outbox relay, the reminder scheduler
(and, without Kafka, the development notifier). One active instance of each, guarded by a
PostgreSQL advisory lock: a second `clinic project` / `clinic relay` / `clinic serve` waits as
a standby and takes over when the first one's database session ends.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Callable
from typing import Any, Protocol

import psycopg
import structlog

from infra.crypto.phi import PhiCipher
from infra.eventstore.application import FOLLOWER_POOL, build_application
from infra.eventstore.log_listener import EventLogListener
from infra.postgres.follower_health import PostgresFollowerHealth
from infra.postgres.read_models import KINDS, READ_MODELS, read_model
from infra.settings import Settings
from infra.wiring.audit import audit_config
from projections.runner import CatchUpRunner

log = structlog.get_logger("clinic.projectors")


class Worker(Protocol):
    def run_forever(self) -> None: ...
    def stop(self) -> None: ...


Built = tuple[Worker, list[Any]]  # the worker, and what to close after it stopped


def build_runner(name: str, settings: Settings, **options: Any) -> CatchUpRunner:
    if name not in READ_MODELS:
        raise ValueError(f"unknown read model '{name}'; known: {', '.join(READ_MODELS)}")
    assert settings.database_url
    app = build_application(settings, open_phi=KINDS[name].reads_phi,
                            pool_size=FOLLOWER_POOL)
    assert isinstance(app.data_keys, PhiCipher)
    model = read_model(name, settings.database_url, settings.db_schema, phi=app.data_keys,
                       audit=audit_config(settings))
    options.setdefault("idle_sleep", settings.follower_gather_ms / 1000)
    return CatchUpRunner(app, model, **options)


def _read_model_worker(name: str) -> Callable[[Settings], Built]:
    def build(settings: Settings) -> Built:
        runner = build_runner(name, settings)
        runner.listener = listener = EventLogListener(runner.app.recorder)
        assert settings.database_url
        runner.health = health = PostgresFollowerHealth(settings.database_url,
                                                        settings.db_schema)
        return runner, [listener, runner.app, health]
    return build


def _relay(settings: Settings) -> Built:
    from infra.wiring.relay import build_relay
    return build_relay(settings)


def _reminders(settings: Settings) -> Built:
    from infra.wiring.reminders import build_scheduler
    return build_scheduler(settings)


def _offers(settings: Settings) -> Built:
    from infra.wiring.waitlist import build_matcher
    return build_matcher(settings)


def _notifier(settings: Settings) -> Built:
    from infra.wiring.notifier import build_local_notifier
    return build_local_notifier(settings)


def _webhooks(settings: Settings) -> Built:
    from infra.wiring.webhooks import build_dispatcher
    return build_dispatcher(settings)


WORKERS: dict[str, Callable[[Settings], Built]] = {
    **{name: _read_model_worker(name) for name in READ_MODELS},
    "relay": _relay,
    "reminders": _reminders,
    "offers": _offers,
    "notifier": _notifier,
    "webhooks": _webhooks,
}
PROJECTORS = (*READ_MODELS, "reminders", "offers")


def every_follower(settings: Settings) -> tuple[str, ...]:
    """What `clinic serve` / `clinic demo` run beside the API: every follower, and the
    notifier and the webhook dispatcher too when there is no Kafka (they then read the local
    sink; with Kafka they are `clinic notify` and `clinic webhooks`)."""
    local = () if settings.kafka_bootstrap else ("notifier", "webhooks")
    return (*PROJECTORS, "relay", *local)


def rebuild(name: str, settings: Settings) -> int:
    """Drop the read model's rows and position, and replay the whole log into it."""
    runner = build_runner(name, settings, batch_size=2000)
    with exclusive(settings, name, wait=False):
        runner.read_model.reset()
        applied = runner.catch_up()
        runner.read_model.tick()
    runner.app.close()
    return applied


class FollowerHost:
    """Background threads that keep each named worker running until stop()."""

    def __init__(self, settings: Settings, names: tuple[str, ...] = PROJECTORS) -> None:
        unknown = set(names) - set(WORKERS)
        if unknown:
            raise ValueError(f"unknown workers: {', '.join(sorted(unknown))}")
        self.settings = settings
        self.names = names
        self.stopping = threading.Event()
        self.workers: list[Worker] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> FollowerHost:
        for name in self.names:
            thread = threading.Thread(target=self._run, args=(name,), name=f"worker-{name}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def _run(self, name: str) -> None:
        yield_to_requests(self.settings.follower_nice)
        while not self.stopping.is_set():
            try:
                with exclusive(self.settings, name, wait=True, stopping=self.stopping.is_set):
                    worker, resources = WORKERS[name](self.settings)
                    self.workers.append(worker)
                    log.info("worker active", worker=name)
                    try:
                        if not self.stopping.is_set():
                            worker.run_forever()
                    finally:
                        for resource in resources:
                            resource.close()
            except Stopped:
                return
            except Exception:
                log.exception("worker failed; restarting", worker=name)
                self.stopping.wait(2.0)

    def stop(self) -> None:
        self.stopping.set()
        for worker in self.workers:
            worker.stop()
        for thread in self.threads:
            thread.join(timeout=10)


def yield_to_requests(nice: int) -> None:
    """Lower the calling thread's CPU priority by `nice` steps. On Linux nice is per thread,
    and threads it starts (the listener's listener, librdkafka's) inherit it; the API workers
    are other processes, so on a shared machine the scheduler runs their requests first and
    the followers take the idle time (decision 0025)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    me = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + nice))
    except OSError as exc:  # e.g. a container that forbids it: run at normal priority
        log.warning("could not lower the follower's priority", error=str(exc))


class Stopped(Exception):
    pass


class exclusive:
    """Hold pg advisory lock `projection:<name>` for the life of the block: one active
    instance of a worker across processes (a follower, the scheduled ingestion pulls)."""

    def __init__(self, settings: Settings, name: str, *, wait: bool,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        assert settings.database_url
        self.url, self.wait, self.stopping = settings.database_url, wait, stopping
        self.key = zlib.crc32(f"projection:{settings.db_schema}:{name}".encode())
        self.conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> exclusive:
        self.conn = psycopg.connect(self.url, autocommit=True)
        while True:
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row and row[0]:
                return self
            if not self.wait:
                self.conn.close()
                raise RuntimeError("another instance holds this worker's lock; stop it first")
            if self.stopping():
                self.conn.close()
                raise Stopped
            threading.Event().wait(2.0)

    def held(self) -> bool:
        """Whether the lock is still ours: its session is alive (a dropped session gave it
        up, and a standby may hold it now)."""
        try:
            return self.conn is not None and self.conn.execute("SELECT 1").fetchone() is not None
        except psycopg.Error:
            return False

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
