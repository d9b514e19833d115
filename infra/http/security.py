"""The authentication dependency every non-public route declares: `Authorized(scope)`.

The scope is declared on the bearer security requirement, so the OpenAPI document lists
it per operation (`security: [{"HTTPBearer": ["messages:read"]}]`, allowed by OpenAPI 3.1
for non-OAuth schemes); tests compare that with docs/access.md.
"""


import asyncio
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from commands.context import Actor
from domain.access import DEFAULT_PURPOSE, Role, Scope
from infra.auth.tokens import (
    InvalidTokenError,
    Principal,
    TokenService,
    TokenWithoutRoleError,
)
from infra.http.audit import purpose_of
from infra.http.deps import async_redis_of, container_of
from infra.http.problems import ProblemError
from infra.http.request_context import request_id_of
from infra.redis.sessions import PatientSessions
from web.api import DOOR as WEB_UI_DOOR

_bearer = HTTPBearer(auto_error=False, description="JWT from `clinic token issue` or sign-in")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="clinic"'}


async def get_token_service(request: Request) -> TokenService:
    return container_of(request).tokens


def Authorized(scope: Scope) -> Any:
    """A dependency yielding the Principal, or answering 401 / 403 as problem+json."""

    async def authorize(
        request: Request,
        credentials: Annotated[
            HTTPAuthorizationCredentials | None, Security(_bearer, scopes=[scope.value])
        ],
        tokens: Annotated[TokenService, Depends(get_token_service)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ProblemError("unauthenticated", "Send a bearer token.", headers=CHALLENGE)
        principal = await _verified(request, tokens, credentials.credentials)
        request.state.principal = principal  # the audit of a refusal names the caller
        if not principal.may(scope):
            raise ProblemError(
                "forbidden", f"The role '{principal.role}' may not use this route.",
                required_scope=scope.value,
            )
        return principal

    return Depends(authorize)


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    tokens: Annotated[TokenService, Depends(get_token_service)],
) -> Principal | None:
    """For public routes that behave better for a signed-in caller (holds)."""
    if credentials is None:
        return None
    principal = await _verified(request, tokens, credentials.credentials)
    request.state.principal = principal
    return principal


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def actor_of(request: Request, principal: Principal | None, *,
             purpose_required: bool = True) -> Actor:
    """The caller as the use cases know them: who, in which role, for which request, and
    the purpose of use they state in `X-Purpose-Of-Use` (else their role's default). An
    unknown purpose is refused (422), except where `purpose_required` is False: routes that
    touch no PHI (holds, sign-out, a join link) record the role's default instead."""
    try:
        purpose = purpose_of(request, principal)
    except ProblemError:
        if purpose_required:
            raise
        purpose = DEFAULT_PURPOSE[principal.role if principal else None]
    return Actor(subject=principal.subject if principal else "anonymous",
                 role=principal.role if principal else None,
                 request_id=request_id_of(request),
                 purpose=purpose.value,
                 session_id=principal.session_id if principal else None,
                 clinics=principal.clinics if principal else None,
                 door=request.scope.get(WEB_UI_DOOR) or (
                     "fhir" if request.url.path.startswith("/fhir/") else "api"))


def Acting(scope: Scope, *, purpose_required: bool = True) -> Any:
    """A dependency yielding the authorized caller (Authorized(scope)) as an Actor."""

    async def acting(request: Request,
                     principal: Annotated[Principal, Authorized(scope)]) -> Actor:
        return actor_of(request, principal, purpose_required=purpose_required)

    return Depends(acting)


async def maybe_actor(request: Request, principal: MaybePrincipal) -> Actor:
    return actor_of(request, principal, purpose_required=False)


async def anonymous_actor(request: Request) -> Actor:
    return actor_of(request, None)


MaybeActor = Annotated[Actor, Depends(maybe_actor)]  # signed in or not (holds)
Anonymous = Annotated[Actor, Depends(anonymous_actor)]  # signed out (registration, sign-in)


async def _verified(request: Request, tokens: TokenService, token: str) -> Principal:
    """A valid token; for a patient, also a live session (which this request keeps alive).
    Async on purpose, like infra/http/deps.py: a plain def dependency costs a thread hop."""
    try:
        principal = tokens.known(token)
        if principal is None:  # the identity provider's keys may need fetching: not here
            principal = (await asyncio.to_thread(tokens.verify, token)
                         if tokens.is_external(token) else tokens.verify(token))
    except TokenWithoutRoleError as exc:
        raise ProblemError("forbidden", f"{exc}.") from None
    except InvalidTokenError as exc:
        raise ProblemError("unauthenticated", f"{exc}.", headers=CHALLENGE) from None
    request.state.principal = principal  # authentic, if not (yet) authorized: for the audit
    if principal.role is Role.patient:
        sessions: PatientSessions = container_of(request).sessions
        if not await sessions.touch(principal, async_redis_of(request)):
            raise ProblemError("unauthenticated", "The session has ended (signed out, idle "
                               "too long, or past its limit); sign in again.",
                               headers=CHALLENGE, error="session-ended")
    return principal
