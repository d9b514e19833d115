"""When a failed delivery is tried again: exponential backoff (x4 per attempt from `base`,
capped at `cap`) with +-25% jitter, never sooner than the receiver's Retry-After (itself
capped), and after `max_attempts` attempts no more: the delivery is dead."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

FACTOR = 4.0
JITTER = 0.25


@dataclass(frozen=True)
class RetrySchedule:
    max_attempts: int = 8
    base: float = 20.0
    cap: float = 43200.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` (1-based), before jitter."""
        return min(self.base * FACTOR ** (attempt - 1), self.cap)

    def delay(self, attempt: int, retry_after: float | None = None,
              jitter: Callable[[], float] = random.random) -> float | None:
        """Seconds until the next attempt after failed attempt `attempt`; None: give up."""
        if attempt >= self.max_attempts:
            return None
        wait = self.backoff(attempt) * (1 - JITTER + 2 * JITTER * jitter())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After in seconds (a number of seconds or an HTTP date); None if absent or
    unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None
