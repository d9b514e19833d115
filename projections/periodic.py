"""Followers that work in passes on a clock (the reminder scheduler, the waitlist's offer
matcher) rather than event by event: one pass every `every` seconds until stopped, or as soon
as a listener rings; a failed pass is logged and the next one tries again (each pass decides
afresh from the log)."""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog

from projections.ports import LogListener


class PeriodicWorker:
    """With a listener, a pass also starts as soon as it rings (the work it looks for was
    just recorded), not only every `every` seconds."""

    name = "periodic"

    def __init__(self, every: float) -> None:
        self.every = every
        self.stopping = threading.Event()
        self.listener: LogListener | None = None

    def run_once(self) -> Any:
        raise NotImplementedError

    def run_forever(self) -> None:
        log = structlog.get_logger(f"clinic.{self.name}")
        while not self.stopping.is_set():
            rang = self.listener.rings() if self.listener else 0
            try:
                self.run_once()
            except Exception:
                log.exception("pass failed; retrying", worker=self.name)
            if self.listener is None:
                self.stopping.wait(self.every)
            else:  # until it rings or `every` is over; a stop is seen within a second
                deadline = time.monotonic() + self.every
                while not self.stopping.is_set() and self.listener.rings() == rang and \
                        (left := deadline - time.monotonic()) > 0:
                    self.listener.wait(rang, min(1.0, left))

    def stop(self) -> None:
        self.stopping.set()
