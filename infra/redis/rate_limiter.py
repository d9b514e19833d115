"""Fixed-window rate limits in Redis, shared by every API process."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from infra.crypto.derived_keys import keyed_hash

# Every limit of a request in one command: open the window if new, count the hit, and
# answer the longest wait among the tripped windows (0: allowed). One reply to parse instead
# of a MULTI/EXEC pipeline's eight (docs/performance.md).
_HIT_ALL = """
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[2 * i], 'NX')
  if redis.call('INCR', key) > tonumber(ARGV[2 * i - 1]) then
    wait = math.max(wait, redis.call('TTL', key), 1)
  end
end
return wait
"""


class RateLimiter:
    def __init__(self, client: redis.Redis, pseudonym_key: bytes) -> None:
        self.client = client
        self.pseudonym_key = pseudonym_key
        self._hit_all = client.register_script(_HIT_ALL)

    def hit(self, bucket: str, key: str, limit: int, window_s: int) -> int | None:
        """Count one hit; return None if allowed, else seconds until the window resets."""
        return self.hit_all([(bucket, key, limit, window_s)])

    def hit_all(self, limits: Sequence[tuple[str, str, int, int]]) -> int | None:
        """Count one hit in each (bucket, key, limit, window_s), in one round trip; None if
        every one allows it, else the longest wait until a tripped window resets."""
        # Keys never hold raw emails or addresses: a keyed hash, not guessable either.
        keys = [f"rl:{bucket}:{keyed_hash(self.pseudonym_key, key)[:32]}"
                for bucket, key, _limit, _window in limits]
        args = [value for _b, _k, limit, window in limits for value in (limit, window)]
        wait = int(self._hit_all(keys=keys, args=args))
        return wait or None
