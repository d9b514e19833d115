"""Email one-time codes in Redis: hashed, single use, 10 minutes, at most 5 wrong tries."""

from __future__ import annotations

import secrets
from uuid import UUID

import redis

from commands.ports import CodeCheck
from infra.crypto.derived_keys import keyed_hash

TTL_SECONDS = 600
MAX_WRONG = 5

# Atomically: compare the hash; on success delete (single use); on failure count, and
# delete after the last allowed wrong try.
_CHECK = """
local stored = redis.call('HGET', KEYS[1], 'hash')
if not stored then return 'expired' end
if stored == ARGV[1] then redis.call('DEL', KEYS[1]) return 'accepted' end
local wrong = redis.call('HINCRBY', KEYS[1], 'wrong', 1)
if wrong >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
return 'wrong'
"""


class RedisOneTimeCodes:
    def __init__(self, client: redis.Redis, pepper: bytes) -> None:
        self.client = client
        self.pepper = pepper
        self._check = client.register_script(_CHECK)

    def issue(self, subject: UUID) -> str:
        """A fresh code replaces any earlier one (and its wrong-try count)."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        key = self._key(subject)
        with self.client.pipeline() as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"hash": self._hash(subject, code), "wrong": 0})
            pipe.expire(key, TTL_SECONDS)
            pipe.execute()
        return code

    def check(self, subject: UUID, code: str) -> CodeCheck:
        if len(code) != 6 or not code.isdigit():
            return CodeCheck.wrong
        outcome = self._check(keys=[self._key(subject)],
                              args=[self._hash(subject, code), MAX_WRONG])
        return CodeCheck(outcome.decode() if isinstance(outcome, bytes) else outcome)

    def revoke(self, subject: UUID) -> None:
        self.client.delete(self._key(subject))

    def _hash(self, subject: UUID, code: str) -> str:
        return keyed_hash(self.pepper, f"{subject}:{code}")

    @staticmethod
    def _key(subject: UUID) -> str:
        return f"otp:{subject}"
