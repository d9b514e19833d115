"""Bearer tokens: our own (HS256, issued by `clinic token issue` and at patient sign-in) and,
when configured, staff access tokens of the network's OpenID Connect provider (infra/auth/
oidc.py). Either way the caller becomes a Principal with its role's scopes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from domain.access import ROLE_SCOPES, Role, Scope
from infra.auth.clinics import staff_clinics
from infra.auth.oidc import NoRoleError, OidcError, OidcVerifier

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


class TokenWithoutRoleError(InvalidTokenError):
    """Authentic, but it grants no role here (403, not 401)."""


VERIFIED_CACHE_MAX = 10_000


class TokenService:
    """Issues and verifies tokens. A verified token is remembered until it expires: a
    token's signature and claims never change, and checking them (PyJWT prepares the HMAC
    key on every call) was a twentieth of a booking's CPU. Sessions are still checked on
    every request (infra/redis/sessions.py), so a sign-out takes effect at once."""

    def __init__(self, secret: str, issuer: str, oidc: OidcVerifier | None = None) -> None:
        self._secret = secret
        self._issuer = issuer
        self.oidc = oidc
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

    def known(self, token: str) -> Principal | None:
        """A token verified before and not yet expired (no work, no I/O)."""
        known = self._verified.get(token)
        return known[0] if known is not None and time.time() < known[1] else None

    def is_external(self, token: str) -> bool:
        """Whether verifying it may fetch the provider's keys (network I/O)."""
        return self.oidc is not None and _issuer_of(token) == self.oidc.issuer

    def verify(self, token: str) -> Principal:
        known = self.known(token)
        if known is not None:
            return known
        principal, expires = (self._external(token) if self.is_external(token)
                              else self._decode(token))
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _external(self, token: str) -> tuple[Principal, float]:
        assert self.oidc is not None
        try:
            claims = self.oidc.verify(token)
        except NoRoleError as exc:
            raise TokenWithoutRoleError(str(exc)) from None
        except OidcError as exc:
            raise InvalidTokenError(str(exc)) from None
        return Principal(subject=claims.subject, role=claims.role,
                         scopes=ROLE_SCOPES[claims.role], token_id=claims.token_id,
                         clinics=claims.clinics), claims.expires

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


def _issuer_of(token: str) -> object:
    """Which issuer a token claims (unverified: only to choose how to verify it)."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token signature is not valid"
    return "the token is not valid"
