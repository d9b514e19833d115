"""Telehealth join links: signed, expiring URLs that let one participant into one video visit.

The token is the credential, so it is signed with a key of its own
(infra/crypto/derived_keys.py), never the API token key: a join link cannot be used as a
bearer token, nor the other way round. It says
only who may join which visit at which start; whether they may join *now* is decided against
the visit's current state (domain/telehealth.py). Links must never reach a log line
(infra/observability/logging.py masks `token=` in any logged text).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from uuid import UUID

import jwt

from domain.telehealth import InvalidJoinLinkError, JoinClaims, Participant
from infra.crypto.derived_keys import derived_keys, keyed_hash
from infra.settings import Settings

AUDIENCE = "clinic-telehealth"
ALGORITHM = "HS256"
JOIN_PATH = "/telehealth/join"
_REQUIRED = ["exp", "iat", "aud", "iss", "sub", "apt", "role", "start"]


class JoinLinks:
    def __init__(self, key: bytes, rooms_key: bytes, public_url: str, issuer: str,
                 early: timedelta) -> None:
        self._key, self._rooms_key = key, rooms_key
        self.public_url, self.issuer, self.early = public_url.rstrip("/"), issuer, early

    def token(self, appointment_id: UUID, role: Participant | str, participant_id: UUID,
              start: datetime, end: datetime) -> str:
        """Valid until the visit's end (`exp`); no `nbf`: opening time is the visit's rule,
        and it moves with the visit."""
        claims = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": str(participant_id),
            "apt": str(appointment_id), "role": Participant(role).value,
            "start": _utc(start).isoformat(), "iat": int(datetime.now(UTC).timestamp()),
            "exp": int(_utc(end).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def url_for(self, appointment_id: UUID, role: Participant | str, participant_id: UUID,
                start: datetime, end: datetime) -> str:
        token = self.token(appointment_id, role, participant_id, start, end)
        return f"{self.public_url}{JOIN_PATH}?{urlencode({'token': token})}"

    def verify(self, token: str) -> JoinClaims:
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE,
                                issuer=self.issuer, options={"require": _REQUIRED})
            return JoinClaims(
                appointment_id=UUID(str(claims["apt"])), role=Participant(claims["role"]),
                participant_id=UUID(str(claims["sub"])),
                start=_utc(datetime.fromisoformat(str(claims["start"]))),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC))
        except jwt.ExpiredSignatureError:
            raise InvalidJoinLinkError("the join link has expired") from None
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise InvalidJoinLinkError("the join link is not valid") from None

    def opens_at(self, start: datetime) -> datetime:
        return _utc(start) - self.early

    def room_id(self, appointment_id: UUID) -> str:
        """Both participants meet here; the id reveals nothing about the appointment."""
        return keyed_hash(self._rooms_key, str(appointment_id))[:32]


def join_links(settings: Settings) -> JoinLinks:
    """From settings alone: the API and the notifier (links in emails) build the same one."""
    keys = derived_keys(settings)
    return JoinLinks(keys.join_links, keys.rooms, settings.public_url, settings.jwt_issuer,
                     timedelta(minutes=settings.telehealth_join_early_minutes))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("join link times must be timezone-aware")
    return moment.astimezone(UTC)
