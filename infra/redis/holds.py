"""Slot holds in Redis: SET NX PX per slot, and a bounded set of holds per holder.

A hold makes checkout pleasant; it is not the double-booking guarantee (the provider
calendar in the event store is). An index of every hold by expiry (hold:index) answers "how
many holds are active" without scanning the keyspace (the clinic_holds_active gauge).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from uuid import UUID, uuid4

import redis
import redis.asyncio

from commands.ports import Hold, HoldLimitReached

# KEYS: slot key, holder set, index. ARGV: value, ttl ms, now ms, max per holder, slot id.
_PLACE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {'limit', first[2]}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'taken', ''} end
local expires = tonumber(ARGV[3]) + tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], expires, ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
redis.call('ZADD', KEYS[3], expires, ARGV[5])
return {'ok', tostring(expires)}
"""

# KEYS: slot key. The hold and its time left in one reply (a MULTI/EXEC pipeline of two
# commands cost a booking more CPU than the commands: docs/performance.md).
_HOLDING = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PTTL', KEYS[1])}
"""

# KEYS: slot key, index. ARGV: hold id, slot id, holder-set key prefix. Only the hold's own
# id frees it; the holder's set is named from the stored hold (one round trip, not four).
# That key is not declared in KEYS: fine on the one Redis server this runs on, not on a
# Redis Cluster (which would need the holder in a hash tag shared with the slot key).
_RELEASE = """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local hold = cjson.decode(value)
if hold['hold_id'] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[3] .. hold['holder'], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""


# KEYS: slot key, index. ARGV: hold id, ttl ms, now ms, slot id, most extensions, holder-set
# key prefix. The hold's own id only; a count of extensions kept in the hold itself.
_EXTEND = """
local value = redis.call('GET', KEYS[1])
if not value then return {'gone', ''} end
local hold = cjson.decode(value)
if hold['hold_id'] ~= ARGV[1] then return {'gone', ''} end
local extended = tonumber(hold['extended'] or 0)
if extended >= tonumber(ARGV[5]) then return {'limit', ''} end
hold['extended'] = extended + 1
redis.call('SET', KEYS[1], cjson.encode(hold), 'PX', ARGV[2])
local expires = tonumber(ARGV[3]) + tonumber(ARGV[2])
local holder = ARGV[6] .. hold['holder']
redis.call('ZADD', holder, expires, ARGV[4])
redis.call('PEXPIRE', holder, ARGV[2])
redis.call('ZADD', KEYS[2], expires, ARGV[4])
return {'ok', tostring(expires)}
"""


class RedisHolds:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._place = client.register_script(_PLACE)
        self._holding = client.register_script(_HOLDING)
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    def place(self, slot_id: UUID, holder: str, secret: str, ttl_ms: int,
              max_per_holder: int) -> Hold | None:
        hold_id = uuid4()
        now_ms = int(time.time() * 1000)
        value = json.dumps({"hold_id": str(hold_id), "holder": holder, "secret": secret})
        outcome, detail = self._place(
            keys=[self._slot_key(slot_id), self._holder_key(holder), HOLD_INDEX],
            args=[value, ttl_ms, now_ms, max_per_holder, str(slot_id)],
        )
        outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
        if outcome == "limit":
            raise HoldLimitReached(retry_after=max(1, (int(float(detail)) - now_ms) // 1000 + 1))
        if outcome == "taken":
            return None
        expires = datetime.fromtimestamp(int(detail) / 1000, UTC)
        return Hold(hold_id=hold_id, slot_id=slot_id, holder=holder, expires_at=expires)

    def holding(self, slot_id: UUID) -> tuple[Hold, str] | None:
        found = self._holding(keys=[self._slot_key(slot_id)])
        if not found:
            return None
        raw, ttl = found
        data = json.loads(raw)
        expires = datetime.fromtimestamp(time.time() + max(int(ttl), 0) / 1000, UTC)
        return Hold(UUID(data["hold_id"]), slot_id, data["holder"], expires), data["secret"]

    def release(self, slot_id: UUID, hold_id: UUID) -> None:
        self._release(keys=[self._slot_key(slot_id), HOLD_INDEX],
                      args=[str(hold_id), str(slot_id), self._holder_key("")])

    def extend(self, slot_id: UUID, hold_id: UUID, ttl_ms: int,
               most: int) -> datetime | bool | None:
        now_ms = int(time.time() * 1000)
        outcome, detail = self._extend(
            keys=[self._slot_key(slot_id), HOLD_INDEX],
            args=[str(hold_id), ttl_ms, now_ms, str(slot_id), most, self._holder_key("")])
        outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
        if outcome == "gone":
            return None
        if outcome == "limit":
            return False
        return datetime.fromtimestamp(int(detail) / 1000, UTC)

    def release_all(self, holder: str) -> int:
        released = 0
        for raw in self.client.zrange(self._holder_key(holder), 0, -1):
            slot_id = UUID(raw.decode() if isinstance(raw, bytes) else str(raw))
            current = self.holding(slot_id)
            if current is not None and current[0].holder == holder:
                self.release(slot_id, current[0].hold_id)
                released += 1
        self.client.delete(self._holder_key(holder))
        return released

    @staticmethod
    def _slot_key(slot_id: UUID) -> str:
        return slot_key(slot_id)

    @staticmethod
    def _holder_key(holder: str) -> str:
        return f"hold:holder:{holder}"


def slot_key(slot_id: UUID | str) -> str:
    return f"hold:slot:{slot_id}"


HOLD_INDEX = "hold:index"  # slot id -> expiry (ms), for counting


def active_holds(client: redis.Redis) -> int:
    """Holds that have neither expired nor been released."""
    return int(client.zcount(HOLD_INDEX, f"({int(time.time() * 1000)}", "+inf"))


class AsyncHeldSlots:
    """The read side's question to Redis: which of these slots are held?"""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client

    async def held_among(self, slot_ids: list[str]) -> set[str]:
        if not slot_ids:
            return set()
        values = await self.client.mget([slot_key(s) for s in slot_ids])
        return {s for s, v in zip(slot_ids, values, strict=True) if v is not None}
