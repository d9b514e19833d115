"""Staff access tokens from the clinic network's OpenID Connect identity provider.

The issuer's discovery document names its JWKS; PyJWT's JWKS client fetches the signing keys
and fetches them again when a token names a key it does not know (the provider rotated its
keys). A token is accepted if its signature, issuer, audience and expiry (with a little clock
skew) hold, and if its roles map to one of ours; its clinics claim scopes the staff member
(docs/decisions/0040-staff-sign-in-with-openid-connect.md).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
from jwt import PyJWKClient

from domain.access import Role
from infra.auth.clinics import staff_clinics

# Of several roles a person holds, the token acts in the first of these (the broadest).
PRECEDENCE = (Role.admin, Role.front_desk, Role.provider, Role.compliance, Role.analyst)
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]


class OidcError(Exception):
    """The token is not one this API accepts (signature, issuer, audience, expiry)."""


class NoRoleError(OidcError):
    """An authentic token whose roles map to none of ours (e.g. the role was removed)."""


@dataclass(frozen=True)
class OidcClaims:
    """Who the token speaks for, as our Principal needs it."""

    subject: str
    role: Role
    clinics: frozenset[UUID] | None
    token_id: str
    expires: float


@dataclass(frozen=True)
class ClaimMapping:
    """Where our notions live in the provider's tokens (configurable: CLINIC_OIDC_*)."""

    roles_claim: str = "realm_access.roles"  # a dotted path to a list of role names
    role_map: Mapping[str, Role] | None = None  # the provider's role name -> ours
    clinics_claim: str = "clinics"  # a list of clinic ids
    provider_claim: str = "provider_id"  # a provider's id in our directory

    def role_of(self, claims: Mapping[str, Any]) -> Role:
        names = _at(claims, self.roles_claim)
        held = {str(n) for n in names} if isinstance(names, list) else set()
        mapping = self.role_map or {role.value: role for role in Role if role is not Role.patient}
        ours = {mapping[name] for name in held if name in mapping}
        for role in PRECEDENCE:
            if role in ours:
                return role
        raise NoRoleError("the token grants no role of this API")

    def clinics_of(self, role: Role, claims: Mapping[str, Any]) -> frozenset[UUID] | None:
        try:
            return staff_clinics(role, _at(claims, self.clinics_claim))
        except ValueError as exc:
            raise OidcError(f"the {self.clinics_claim} claim is not a list of ids") from exc

    def subject_of(self, role: Role, claims: Mapping[str, Any]) -> str:
        """A provider acts as their provider id (their own visits and hours); other staff as
        the provider's subject."""
        if role is Role.provider:
            provider_id = _at(claims, self.provider_claim)
            if not isinstance(provider_id, str):
                raise NoRoleError(f"a provider's token needs the {self.provider_claim} claim")
            return provider_id
        return str(claims["sub"])


class OidcVerifier:
    def __init__(self, issuer: str, audience: str, mapping: ClaimMapping, *,
                 leeway_seconds: int = 30, keys_lifespan_seconds: int = 300,
                 refresh_cooldown_seconds: float = 30) -> None:
        self.issuer, self.audience, self.mapping = issuer.rstrip("/"), audience, mapping
        self.leeway = leeway_seconds
        self.keys_lifespan = keys_lifespan_seconds
        self.cooldown = refresh_cooldown_seconds
        self._keys: PyJWKClient | None = None

    def verify(self, token: str) -> OidcClaims:
        try:
            key = self._jwks().get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": ["exp", "iat", "iss", "sub", "aud"]})
        except jwt.ExpiredSignatureError:
            raise OidcError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise OidcError("the token is meant for another audience") from None
        except (jwt.PyJWTError, OSError, ValueError) as exc:
            raise OidcError(f"the token is not valid ({type(exc).__name__})") from None
        role = self.mapping.role_of(claims)
        return OidcClaims(subject=self.mapping.subject_of(role, claims), role=role,
                          clinics=self.mapping.clinics_of(role, claims),
                          token_id=str(claims.get("jti") or claims["sub"]),
                          expires=float(claims["exp"]))

    def _jwks(self) -> PyJWKClient:
        """From the discovery document, read once; the client refetches the key set when a
        token names an unknown key (a rotation), at most once per `cooldown` seconds (tokens
        with made-up key ids cannot make it hammer the provider), and every `keys_lifespan`
        seconds."""
        if self._keys is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            with urllib.request.urlopen(url, timeout=5) as answer:
                discovery = json.load(answer)
            if discovery.get("issuer", "").rstrip("/") != self.issuer:
                raise OidcError("the discovery document names another issuer")
            self._keys = PyJWKClient(discovery["jwks_uri"], cache_keys=True,
                                     lifespan=self.keys_lifespan, timeout=5,
                                     cooldown_duration=self.cooldown)
        return self._keys


def parse_role_map(text: str) -> dict[str, Role]:
    """`provider-role=our_role,...` (CLINIC_OIDC_ROLE_MAP); empty: our role names as is."""
    mapping: dict[str, Role] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        theirs, _, ours = pair.partition("=")
        role = Role(ours.strip())
        if role is Role.patient:
            raise ValueError("patients sign in with an email code, not the staff provider")
        mapping[theirs.strip()] = role
    return mapping


def _at(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
