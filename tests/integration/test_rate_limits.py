"""Fixed-window rate limits on the real Redis: every hit up to the limit passes, the next is
refused with the window's remaining seconds, and one request's limits count together."""

from __future__ import annotations

import uuid

import redis

from infra.embedded.redis import EmbeddedRedis
from infra.redis.rate_limiter import RateLimiter


def _limiter(redis_srv: EmbeddedRedis) -> RateLimiter:
    return RateLimiter(redis.Redis.from_url(redis_srv.url), b"k" * 32)


def test_hits_pass_up_to_the_limit_then_wait_for_the_window(redis_srv: EmbeddedRedis) -> None:
    limiter, who = _limiter(redis_srv), str(uuid.uuid4())
    assert [limiter.hit("try", who, 3, 60) for _ in range(3)] == [None, None, None]
    wait = limiter.hit("try", who, 3, 60)
    assert wait is not None and 0 < wait <= 60
    assert limiter.hit("try", str(uuid.uuid4()), 3, 60) is None  # another caller's window
    assert limiter.hit("other", who, 3, 60) is None  # another bucket


def test_every_limit_of_a_request_counts_and_the_longest_wait_wins(
        redis_srv: EmbeddedRedis) -> None:
    limiter, who, address = _limiter(redis_srv), str(uuid.uuid4()), str(uuid.uuid4())
    limits = [("per-caller", who, 2, 30), ("per-address", address, 5, 600)]
    assert [limiter.hit_all(limits) for _ in range(2)] == [None, None]
    wait = limiter.hit_all(limits)
    assert wait is not None and 0 < wait <= 30  # only the caller's window tripped
    for _ in range(2):
        limiter.hit_all(limits)
    wait = limiter.hit_all(limits)  # the sixth hit: the address's window trips too
    assert wait is not None and 30 < wait <= 600
