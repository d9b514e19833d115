"""Fixed-window rate limits in Redis, shared by every API process."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from infra.keys import keyed_hash


class RateLimiter:
    def __init__(self, client: redis.Redis, pseudonym_key: bytes) -> None:
        self.client = client
        self.pseudonym_key = pseudonym_key

    def hit(self, bucket: str, key: str, limit: int, window_s: int) -> int | None:
        """Count one hit; return None if allowed, else seconds until the window resets."""
        return self.hit_all([(bucket, key, limit, window_s)])

    def hit_all(self, limits: Sequence[tuple[str, str, int, int]]) -> int | None:
        """Count one hit in each (bucket, key, limit, window_s), in one round trip; None if
        every one allows it, else the longest wait until a tripped window resets."""
        with self.client.pipeline() as pipe:
            for bucket, key, _limit, window_s in limits:
                # Keys never hold raw emails or addresses: a keyed hash, not guessable either.
                name = f"rl:{bucket}:{keyed_hash(self.pseudonym_key, key)[:32]}"
                pipe.set(name, 0, ex=window_s, nx=True)  # opens the window (no EXPIRE NX in 6.2)
                pipe.incr(name)
                pipe.ttl(name)
            replies = pipe.execute()
        waits = [max(1, int(replies[3 * i + 2])) for i, (_b, _k, limit, _w) in enumerate(limits)
                 if int(replies[3 * i + 1]) > limit]
        return max(waits) if waits else None
