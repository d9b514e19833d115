"""Signing in with the emailed code, and out: a verified address and a patient session."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from commands.context import Actor, acting_as
from commands.models import Strict
from commands.patients import Email, Patients
from commands.ports import CodeCheck, CommandMetrics, OneTimeCodes, Sessions
from domain.errors import NotAuthenticatedError, RuleViolationError


class InvalidCodeError(NotAuthenticatedError):
    code = "invalid-code"


class CodeVerification(Strict):
    email: Email
    code: Annotated[str, Field(min_length=6, max_length=6, pattern=r"^\d{6}$")]
    patient_id: Annotated[UUID | None, Field(
        description="After registering: the patient_id the registration answered, so that "
                    "the code confirms that registration's details and no other")] = None


class RegistrationIdRequiredError(RuleViolationError):
    code = "registration-id-required"


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the session ends at the latest")
    idle_timeout: int = Field(description="The session ends after this many seconds "
                                          "without a request")
    patient_id: UUID


class SignIn:
    def __init__(self, patients: Patients, codes: OneTimeCodes, sessions: Sessions,
                 metrics: CommandMetrics) -> None:
        self.patients, self.codes, self.sessions = patients, codes, sessions
        self.metrics = metrics

    def verify(self, command: CodeVerification, actor: Actor) -> AccessToken:
        """Trade the emailed code for a session; the address counts as verified."""
        claim = self.patients.claim(command.email)
        patient_id = claim.patient_id if claim is not None else None
        if command.patient_id is not None and command.patient_id != patient_id:
            patient_id = None  # a newer registration of the address took it over
        elif claim is not None and claim.contested and patient_id is not None and \
                command.patient_id is None and not self.patients.patient(patient_id).ever_verified:
            raise RegistrationIdRequiredError(
                "This address was registered more than once: send the patient_id your "
                "registration answered with the code, so that it confirms your details.")
        outcome = self.codes.check(patient_id, command.code) if patient_id \
            else CodeCheck.expired
        if patient_id is None or outcome is not CodeCheck.accepted:
            self.metrics.sign_in_refused("wrong" if outcome is CodeCheck.wrong else "expired")
            raise InvalidCodeError("The code is wrong, used or expired; ask for a new one "
                                   "after five wrong tries.")
        with acting_as(actor.doing("email verification")):
            patient = self.patients.patient(patient_id)
            patient.verify_email()
            self.patients.app.save(patient)
        grant = self.sessions.sign_in(patient_id)
        return AccessToken(access_token=grant.access_token, expires_in=grant.expires_in,
                           idle_timeout=grant.idle_timeout, patient_id=patient_id)

    def sign_out(self, actor: Actor) -> None:
        """End the caller's session now (patients; staff tokens simply expire)."""
        self.sessions.end(actor.subject, actor.session_id)
