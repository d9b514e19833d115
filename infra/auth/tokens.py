"""JWT bearer tokens (HS256) with the role's scopes, issued by `clinic token issue`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from domain.access import ROLE_SCOPES, Role, Scope

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: who (subject), in which role, allowed which scopes."""

    subject: str
    role: Role
    scopes: frozenset[Scope]
    token_id: str
    session_id: str | None = None  # patients: the Redis session the token belongs to
    # Staff: the clinics they work for (the `clinics` claim); None: the whole network (an
    # admin without the claim). Front desk without the claim reach no clinic's patients.
    clinics: frozenset[UUID] | None = None

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes


class InvalidTokenError(Exception):
    pass


VERIFIED_CACHE_MAX = 10_000


class TokenService:
    """Issues and verifies tokens. A verified token is remembered until it expires: a
    token's signature and claims never change, and checking them (PyJWT prepares the HMAC
    key on every call) was a twentieth of a booking's CPU. Sessions are still checked on
    every request (infra/redis/sessions.py), so a sign-out takes effect at once."""

    def __init__(self, secret: str, issuer: str) -> None:
        self._secret = secret
        self._issuer = issuer
        self._verified: dict[str, tuple[Principal, float]] = {}

    def issue(self, role: Role, subject: str, ttl_seconds: int = DEFAULT_TTL_SECONDS, *,
              session_id: str | None = None, clinics: Iterable[UUID] | None = None) -> str:
        if not subject.strip():
            raise ValueError("subject must not be empty")
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "role": role.value,
            "scope": " ".join(sorted(s.value for s in ROLE_SCOPES[role])),
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        if session_id is not None:
            claims["sid"] = session_id
        if clinics is not None:
            claims["clinics"] = sorted(str(c) for c in clinics)
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = self._decode(token)
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "jti"]},
            )
            role = Role(claims["role"])
            granted = {Scope(s) for s in str(claims.get("scope", "")).split()}
            clinics = staff_clinics(role, claims.get("clinics"))
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise InvalidTokenError(_reason(exc)) from None
        # A token never grants more than its role has today.
        return Principal(
            subject=str(claims["sub"]),
            role=role,
            scopes=frozenset(granted & ROLE_SCOPES[role]),
            token_id=str(claims["jti"]),
            session_id=str(claims["sid"]) if "sid" in claims else None,
            clinics=clinics,
        ), float(claims["exp"])


def staff_clinics(role: Role, claimed: object) -> frozenset[UUID] | None:
    """The clinics a token's `clinics` claim names (a list of ids). Front desk are always
    scoped (no claim: no clinic); an admin without the claim is the network's; other roles
    are not scoped by clinic (their records are their own, or none)."""
    if claimed is None:
        return frozenset() if role is Role.front_desk else None
    if not isinstance(claimed, list):
        raise ValueError("clinics must be a list of clinic ids")
    return frozenset(UUID(str(c)) for c in claimed)


def _reason(exc: Exception) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token signature is not valid"
    return "the token is not valid"
