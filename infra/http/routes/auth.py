"""/auth: sign in with an emailed code, sign out, where staff sign in; /me: who the token says
the caller is."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from commands.context import Actor
from commands.patients import CodeRequest
from commands.sign_in import AccessToken, CodeVerification
from domain.access import Role, Scope
from domain.errors import NotFoundError
from infra.auth.tokens import Principal
from infra.http.deps import Limits, PatientsDep, SettingsDep, SignInDep
from infra.http.security import Acting, Anonymous, Authorized

router = APIRouter()
Anyone = Annotated[Actor, Acting(Scope.profile_read, purpose_required=False)]


class Me(BaseModel):
    subject: str
    role: Role
    scopes: list[str]
    clinics: list[UUID] | None = Field(
        default=None, description="Staff: the clinics whose records they reach (None: "
                                  "not scoped by clinic)")


@router.post("/auth/email-code", status_code=202, tags=["patients"],
             responses={202: {"description": "If the address is registered, a code was sent"}})
def request_code(body: CodeRequest, actor: Anonymous, patients: PatientsDep,
                 limits: Limits) -> dict[str, str]:
    """Ask for a sign-in code. The answer is the same whether or not the address is known."""
    limits.check(("code-ip", limits.address, 20, 3600),
                 ("code-email", body.email.strip().lower(), 5, 3600))
    patients.request_code(body, actor)
    return {"status": "If the address is registered, a code is on its way."}


@router.post("/auth/verify", response_model=AccessToken, tags=["patients"],
             responses={401: {"description": "Wrong, used or expired code"}})
def verify_code(body: CodeVerification, actor: Anonymous, sign_in: SignInDep,
                limits: Limits) -> AccessToken:
    """Trade the emailed code for a patient token; the address counts as verified."""
    limits.check(("verify-ip", limits.address, 30, 600),
                 ("verify-email", body.email.strip().lower(), 10, 600))
    return sign_in.verify(body, actor)


@router.post("/auth/sign-out", status_code=204, response_class=Response, tags=["patients"])
def sign_out(actor: Anyone, sign_in: SignInDep) -> Response:
    """End the caller's session now (patients; staff tokens simply expire)."""
    sign_in.sign_out(actor)
    return Response(status_code=204)


@router.get("/me", response_model=Me, tags=["account"])
def read_me(principal: Annotated[Principal, Authorized(Scope.profile_read)]) -> Me:
    """The caller's subject, role, scopes and clinics, as the token states them."""
    return Me(subject=principal.subject, role=principal.role,
              scopes=sorted(s.value for s in principal.scopes),
              clinics=None if principal.clinics is None else sorted(principal.clinics))


class StaffSignIn(BaseModel):
    issuer: str = Field(description="The OpenID Connect provider (its discovery document "
                                    "lives under it)")
    client_id: str = Field(description="The public client a browser signs staff in with: "
                                       "authorization code with PKCE (S256)")


@router.get("/auth/staff-sign-in", response_model=StaffSignIn, tags=["account"],
            responses={404: {"description": "No OpenID Connect provider is configured: "
                                            "staff use tokens from `clinic token issue`"}})
def staff_sign_in(settings: SettingsDep) -> StaffSignIn:
    """Where staff sign in (public, like an OpenID Connect discovery document)."""
    if not settings.oidc_issuer:
        raise NotFoundError("staff sign in with tokens here: no identity provider is set")
    return StaffSignIn(issuer=settings.oidc_issuer, client_id=settings.oidc_web_client_id)
