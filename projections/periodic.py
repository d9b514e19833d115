"""Followers that work in passes on a clock (the reminder scheduler, the waitlist's offer
matcher) rather than event by event: one pass every `every` seconds until stopped; a failed
pass is logged and the next one tries again (each pass decides afresh from the log)."""

from __future__ import annotations

import threading
from typing import Any

import structlog


class PeriodicWorker:
    name = "periodic"

    def __init__(self, every: float) -> None:
        self.every = every
        self.stopping = threading.Event()

    def run_once(self) -> Any:
        raise NotImplementedError

    def run_forever(self) -> None:
        log = structlog.get_logger(f"clinic.{self.name}")
        while not self.stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("pass failed; retrying", worker=self.name)
            self.stopping.wait(self.every)

    def stop(self) -> None:
        self.stopping.set()
