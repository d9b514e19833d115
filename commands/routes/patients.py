"""Patients: register, sign in with an emailed code, see and change one's details."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from commands.models import Strict
from commands.ports import CodeCheck
from domain.access import Role, Scope
from infra.auth.tokens import Principal
from infra.container import Container
from infra.http.audit import record_read
from infra.http.client import client_ip
from infra.http.commands import acting, idempotent_create, rate_limit
from infra.http.deps import ContainerDep
from infra.http.inputs import IsoDate
from infra.http.problems import ProblemError
from infra.http.security import Authorized
from infra.observability.metrics import record_otp_failure

router = APIRouter(tags=["patients"])
Email = Annotated[str, Field(min_length=3, max_length=254, examples=["ana@example.org"])]
Phone = Annotated[str | None, Field(max_length=32)]
PatientReader = Annotated[Principal, Authorized(Scope.patients_read)]


class PatientCreate(Strict):
    given_name: Annotated[str, Field(min_length=1, max_length=100)]
    family_name: Annotated[str, Field(min_length=1, max_length=100)]
    birth_date: IsoDate
    email: Email
    phone: Phone = None


class Registration(BaseModel):
    patient_id: UUID
    next: str = "POST /auth/verify with the 6-digit code sent to the email address"


class CodeRequest(Strict):
    email: Email


class CodeVerification(Strict):
    email: Email
    code: Annotated[str, Field(min_length=6, max_length=6, pattern=r"^\d{6}$")]


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the session ends at the latest")
    idle_timeout: int = Field(description="The session ends after this many seconds "
                                          "without a request")
    patient_id: UUID


class ContactUpdate(Strict):
    email: Email
    phone: Phone = None


class PatientProfile(BaseModel):
    id: UUID
    given_name: str
    family_name: str
    birth_date: date
    email: str
    phone: str | None
    email_verified: bool


@router.post("/patients", status_code=202, response_model=Registration,
             responses={202: {"description": "Registered (or already registered): a code was "
                                             "sent to the email address"}})
def register_patient(body: PatientCreate, request: Request,
                     container: ContainerDep) -> JSONResponse:
    """Register with minimal details; a sign-in code goes to the email address."""
    rate_limit(container, ("register-ip", client_ip(request), 20, 3600),
               ("code-email", body.email.strip().lower(), 5, 3600))

    def create(derived_id: UUID | None) -> tuple[int, Any]:
        with acting(request, None, "patient registration"):
            patient_id, created = container.app.register_patient(
                body.given_name, body.family_name, body.birth_date, body.email, body.phone,
                patient_id=derived_id)
            if not created:
                container.app.request_sign_in_code(patient_id)
        return 202, Registration(patient_id=patient_id)

    return idempotent_create(request, container, f"ip:{client_ip(request)}", body, create)


@router.post("/auth/email-code", status_code=202,
             responses={202: {"description": "If the address is registered, a code was sent"}})
def request_code(body: CodeRequest, request: Request, container: ContainerDep) -> dict[str, str]:
    """Ask for a sign-in code. The answer is the same whether or not the address is known."""
    rate_limit(container, ("code-ip", client_ip(request), 20, 3600),
               ("code-email", body.email.strip().lower(), 5, 3600))
    patient_id = container.app.patient_for_email(body.email)
    if patient_id is not None:
        with acting(request, None, "sign-in code request"):
            container.app.request_sign_in_code(patient_id)
    return {"status": "If the address is registered, a code is on its way."}


@router.post("/auth/verify", response_model=AccessToken,
             responses={401: {"description": "Wrong, used or expired code"}})
def verify_code(body: CodeVerification, request: Request,
                container: ContainerDep) -> AccessToken:
    """Trade the emailed code for a patient token; the address counts as verified."""
    rate_limit(container, ("verify-ip", client_ip(request), 30, 600),
               ("verify-email", body.email.strip().lower(), 10, 600))
    patient_id = container.app.patient_for_email(body.email)
    outcome = container.codes.check(patient_id, body.code) if patient_id else CodeCheck.expired
    if patient_id is None or outcome is not CodeCheck.accepted:
        record_otp_failure("wrong" if outcome is CodeCheck.wrong else "expired")
        raise ProblemError("unauthenticated", "The code is wrong, used or expired; ask for a "
                           "new one after five wrong tries.", error="invalid-code")
    with acting(request, None, "email verification"):
        container.app.verify_patient_email(patient_id)
    grant = container.sessions.sign_in(patient_id)
    return AccessToken(access_token=grant.access_token, expires_in=grant.expires_in,
                       idle_timeout=grant.idle_timeout, patient_id=patient_id)


@router.post("/auth/sign-out", status_code=204, response_class=Response)
def sign_out(principal: Annotated[Principal, Authorized(Scope.profile_read)],
             container: ContainerDep) -> Response:
    """End the caller's session now (patients; staff tokens simply expire)."""
    container.sessions.end(principal)
    return Response(status_code=204)


@router.get("/patients/{patient_id}", response_model=PatientProfile)
def read_patient(patient_id: UUID, request: Request, principal: PatientReader,
                 container: ContainerDep) -> PatientProfile:
    """A patient's own details (or, for staff, any patient's)."""
    require_own(principal, patient_id, container)
    return _audited_profile(request, principal, container, patient_id)


@router.put("/patients/{patient_id}/contact", response_model=PatientProfile)
def update_contact(patient_id: UUID, body: ContactUpdate, request: Request,
                   principal: Annotated[Principal, Authorized(Scope.patients_write)],
                   container: ContainerDep) -> PatientProfile:
    """Change email or phone; a new email address must be verified again."""
    require_own(principal, patient_id, container)
    with acting(request, principal, "contact details change"):
        container.app.change_contact_details(patient_id, body.email, body.phone)
    return _audited_profile(request, principal, container, patient_id)


def _audited_profile(request: Request, principal: Principal, container: Container,
                     patient_id: UUID) -> PatientProfile:
    """The profile, once its read is in the access audit."""
    profile = container.app.patient(patient_id).profile()
    record_read(request, principal, patient_id=patient_id, record_id=patient_id)
    return PatientProfile(**profile)


@router.get("/dev/mailbox", tags=["development"],
            responses={404: {"description": "Not in development mode"}})
def read_dev_mailbox(container: ContainerDep, limit: int = 20) -> list[dict[str, Any]]:
    """Development mode only: the email that would have been sent, newest first."""
    if container.mailbox is None:
        raise ProblemError("not-found", "There is no development mailbox here.")
    return container.mailbox.messages(max(1, min(limit, 100)))


def require_own(principal: Principal, patient_id: UUID, container: Container) -> None:
    """A patient reaches only their own records, a provider only their own patients' (a
    visit booked with them: minimum necessary); anyone else's look like they do not exist."""
    stranger = (principal.role is Role.patient and principal.subject != str(patient_id)) or (
        principal.role is Role.provider and not _treats(container, principal, patient_id))
    if stranger:
        raise ProblemError("not-found", f"no patient with id {patient_id}", denied=True,
                           error="not-found")


def _treats(container: Container, provider: Principal, patient_id: UUID) -> bool:
    with container.pool.connection() as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM appointments WHERE patient_id = %s "
                           "AND provider_id::text = %s)",
                           (patient_id, provider.subject)).fetchone()
    return bool(row and row[0])
