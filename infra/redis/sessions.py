"""Patient sessions: a patient's token works only while its session lives in Redis.

A session ends after `idle` without a request (every request slides it), at `absolute` after
sign-in whatever happens (the token expires then too), at sign-out, and when the patient is
erased. Staff tokens are issued by operators with their own expiry and carry no session.
"""

from __future__ import annotations

import secrets
import time
from uuid import UUID

import redis
import redis.asyncio

from commands.ports import SessionGrant
from domain.access import Role
from infra.auth.tokens import Principal, TokenService


class PatientSessions:
    def __init__(self, client: redis.Redis, tokens: TokenService, *, idle_seconds: int,
                 absolute_seconds: int) -> None:
        self.client, self.tokens = client, tokens
        self.idle, self.absolute = idle_seconds, absolute_seconds

    def sign_in(self, patient_id: UUID | str) -> SessionGrant:
        session_id = secrets.token_urlsafe(18)
        ends_at = int(time.time()) + self.absolute
        with self.client.pipeline() as pipe:
            pipe.set(_key(session_id), f"{patient_id}|{ends_at}", ex=self.idle)
            pipe.sadd(_index(patient_id), session_id)
            pipe.expire(_index(patient_id), self.absolute)
            pipe.execute()
        token = self.tokens.issue(Role.patient, str(patient_id), self.absolute,
                                  session_id=session_id)
        return SessionGrant(token, self.absolute, self.idle)

    async def touch(self, principal: Principal, client: redis.asyncio.Redis) -> bool:
        """Whether the caller's session is alive; if so, its idle clock restarts. Async, on
        the API's event-loop client: every patient request asks, and a thread hop for one
        Redis command costs more than the command (docs/performance.md)."""
        if principal.session_id is None:
            return False
        raw = await client.getex(_key(principal.session_id), ex=self.idle)
        if raw is None:
            return False
        subject, ends_at = _text(raw).split("|")
        return subject == principal.subject and time.time() < int(ends_at)

    def end(self, subject: str, session_id: str | None) -> None:
        if session_id is not None:
            self.client.delete(_key(session_id))
            self.client.srem(_index(subject), session_id)

    def end_all(self, patient_id: UUID) -> int:
        """End every session of a patient (erasure); returns how many were live."""
        ids = [_text(s) for s in self.client.smembers(_index(patient_id))]
        live = int(self.client.delete(*[_key(s) for s in ids])) if ids else 0
        self.client.delete(_index(patient_id))
        return live


def _key(session_id: str) -> str:
    return f"session:{session_id}"


def _index(patient_id: UUID | str) -> str:
    return f"sessions:patient:{patient_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
