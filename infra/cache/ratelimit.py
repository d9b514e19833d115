"""Fixed-window rate limits in Redis, shared by every API process."""

from __future__ import annotations

import redis

from infra.keys import keyed_hash


class RateLimiter:
    def __init__(self, client: redis.Redis, pseudonym_key: bytes) -> None:
        self.client = client
        self.pseudonym_key = pseudonym_key

    def hit(self, bucket: str, key: str, limit: int, window_s: int) -> int | None:
        """Count one hit; return None if allowed, else seconds until the window resets."""
        # Keys never hold raw emails or addresses: a keyed hash, so not guessable either.
        digest = keyed_hash(self.pseudonym_key, key)[:32]
        name = f"rl:{bucket}:{digest}"
        with self.client.pipeline() as pipe:
            pipe.set(name, 0, ex=window_s, nx=True)  # opens the window (Redis 6.2: no EXPIRE NX)
            pipe.incr(name)
            pipe.ttl(name)
            _, count, ttl = pipe.execute()
        if int(count) > limit:
            return max(1, int(ttl))
        return None
