"""Run read-model projectors: one active runner per read model, guarded by an advisory lock.

A second `clinic project` (or `clinic serve`) waits as a standby and takes over when the
first one's database session ends.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import Any

import psycopg
import structlog

from infra.application import build_application
from infra.crypto.phi import PhiCipher
from infra.readmodels.build import READ_MODELS, read_model
from infra.settings import Settings
from projections.runner import CatchUpRunner

log = structlog.get_logger("clinic.projectors")


def build_runner(name: str, settings: Settings, **options: Any) -> CatchUpRunner:
    if name not in READ_MODELS:
        raise ValueError(f"unknown read model '{name}'; known: {', '.join(READ_MODELS)}")
    assert settings.database_url
    app = build_application(settings)
    assert isinstance(app.data_keys, PhiCipher)
    model = read_model(name, settings.database_url, settings.db_schema, phi=app.data_keys)
    return CatchUpRunner(app, model, **options)


def rebuild(name: str, settings: Settings) -> int:
    """Drop the read model's rows and position, and replay the whole log into it."""
    runner = build_runner(name, settings, batch_size=2000)
    with _exclusive(settings, name, wait=False):
        runner.read_model.reset()
        applied = runner.catch_up()
        runner.read_model.tick()
    runner.app.close()
    return applied


class ProjectorHost:
    """Background threads that keep every read model up to date until stop()."""

    def __init__(self, settings: Settings, names: tuple[str, ...] = READ_MODELS) -> None:
        self.settings = settings
        self.names = names
        self.stopping = threading.Event()
        self.runners: list[CatchUpRunner] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> ProjectorHost:
        for name in self.names:
            thread = threading.Thread(target=self._run, args=(name,), name=f"projector-{name}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def _run(self, name: str) -> None:
        while not self.stopping.is_set():
            try:
                with _exclusive(self.settings, name, wait=True, stopping=self.stopping.is_set):
                    runner = build_runner(name, self.settings)
                    self.runners.append(runner)
                    log.info("projector active", read_model=name)
                    try:
                        runner.run_forever()
                    finally:
                        runner.app.close()
            except _Stopped:
                return
            except Exception:
                log.exception("projector failed; restarting", read_model=name)
                self.stopping.wait(2.0)

    def stop(self) -> None:
        self.stopping.set()
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(timeout=10)


class _Stopped(Exception):
    pass


class _exclusive:
    """Hold pg advisory lock `projection:<name>` for the life of the block."""

    def __init__(self, settings: Settings, name: str, *, wait: bool,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        assert settings.database_url
        self.url, self.wait, self.stopping = settings.database_url, wait, stopping
        self.key = zlib.crc32(f"projection:{settings.db_schema}:{name}".encode())
        self.conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> None:
        self.conn = psycopg.connect(self.url, autocommit=True)
        while True:
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row and row[0]:
                return
            if not self.wait:
                self.conn.close()
                raise RuntimeError("another projector holds this read model; stop it first")
            if self.stopping():
                self.conn.close()
                raise _Stopped
            threading.Event().wait(2.0)

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
