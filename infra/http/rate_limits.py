"""Rate limits per caller and per address, counted in Redis (one round trip a request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.http.problems import ProblemError

if TYPE_CHECKING:
    from infra.wiring.container import Container

Limit = tuple[str, str, int, int]  # bucket, key, hits allowed, window in seconds


class RateLimits:
    def __init__(self, container: Container, address: str) -> None:
        self._limiter, self._scale = container.limits, container.settings.rate_limit_scale
        self.address = address  # the caller's IP address: per-address buckets use it

    def check(self, *limits: Limit) -> None:
        """Count this request in every limit; 429 if any is exceeded."""
        retry_after = self._limiter.hit_all(
            [(bucket, key, max(1, int(limit * self._scale)), window)
             for bucket, key, limit, window in limits])
        if retry_after is not None:
            raise ProblemError("rate-limited", f"Too many attempts; try again in "
                               f"{retry_after}s.", headers={"Retry-After": str(retry_after)})
