"""Patients: register, ask for a sign-in code, see and change one's details.

The email address is indexed by a keyed hash (EmailClaim): the id reveals nothing without
the key, and the claim makes two registrations of one address impossible.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, Field

from commands.application import ClinicApplication
from commands.context import Actor, acting_as
from commands.idempotency import IdempotencyKey, Outcome, run_once
from commands.inputs import IsoDate, PlainText
from commands.models import Strict
from commands.ports import CareTeam, IdempotencyRecords
from domain.access import Role
from domain.errors import ConflictError, ForbiddenError
from domain.patients import EmailClaim, EmailTakenError, Patient, normalized_email
from domain.record_access import require_patient

REGISTER = "POST /patients"  # what Idempotency-Keys of registrations are scoped by (run_once)
Email = Annotated[PlainText, Field(min_length=3, max_length=254, examples=["ana@example.org"])]
Phone = Annotated[PlainText | None, Field(max_length=32)]


class PatientCreate(Strict):
    given_name: Annotated[PlainText, Field(min_length=1, max_length=100)]
    family_name: Annotated[PlainText, Field(min_length=1, max_length=100)]
    birth_date: IsoDate
    email: Email
    phone: Phone = None


class Registration(BaseModel):
    patient_id: UUID
    next: str = "POST /auth/verify with the 6-digit code sent to the email address"


class CodeRequest(Strict):
    email: Email


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


class Patients:
    def __init__(self, app: ClinicApplication, email_key: bytes, care_team: CareTeam,
                 idempotency: IdempotencyRecords) -> None:
        self.app, self.email_key = app, email_key
        self.care_team, self.idempotency = care_team, idempotency

    def register(self, command: PatientCreate, actor: Actor,
                 key: IdempotencyKey | None = None) -> Outcome[Registration]:
        """Register with minimal details; a sign-in code goes to the address. A verified
        address keeps its patient unchanged and gets a new code; an unverified one goes to
        this registration (email squatting, docs/privacy.md)."""

        def create(derived_id: UUID | None) -> Registration:
            with acting_as(actor.doing("patient registration")):
                patient_id, created = self._register(command, derived_id)
                if not created:
                    self._request_code(patient_id)
            return Registration(patient_id=patient_id)

        return run_once(self.idempotency, key, REGISTER, command, Registration, create)

    def request_code(self, command: CodeRequest, actor: Actor) -> None:
        """Whether or not the address is known, the caller learns nothing."""
        patient_id = self.patient_for_email(command.email)
        if patient_id is not None:
            with acting_as(actor.doing("sign-in code request")):
                self._request_code(patient_id)

    def profile(self, patient_id: UUID, actor: Actor) -> PatientProfile:
        self.require_reachable(patient_id, actor)
        return PatientProfile(**self.patient(patient_id).profile())

    def change_contact(self, patient_id: UUID, command: ContactUpdate,
                       actor: Actor) -> PatientProfile:
        """A new email address must be verified again, and only the patient changes it:
        staff who could set an address of their own could sign in as the patient."""
        self.require_reachable(patient_id, actor)
        if actor.role not in (None, Role.patient) and \
                normalized_email(command.email) != self.patient(patient_id).email:
            raise ForbiddenError("Only the patient changes their email address; staff may "
                                 "change the phone number.")
        with acting_as(actor.doing("contact details change")):
            self._change_contact(patient_id, command.email, command.phone)
        return PatientProfile(**self.patient(patient_id).profile())

    def require_reachable(self, patient_id: UUID, actor: Actor) -> None:
        """The record-level policy, with the care team for providers."""
        require_patient(actor, patient_id, self.care_team.treats, self.care_team.visits_at)

    def patient(self, patient_id: UUID) -> Patient:
        """A patient who is still on record (an erased one answers PatientErasedError)."""
        patient = self.app.get(Patient, patient_id, "patient")
        patient.require_present()
        return patient

    def patient_for_email(self, email: str) -> UUID | None:
        claim = self.claim(email)
        return claim.patient_id if claim is not None else None

    def claim(self, email: str) -> EmailClaim | None:
        return self.app.find(EmailClaim, self.email_claim_id(email))

    def email_claim_id(self, email: str) -> UUID:
        """A keyed hash of the address: the id reveals nothing without the key. Not
        validated here: addresses stored before today's text rules must still be found."""
        digest = hmac.new(self.email_key, email.strip().lower().encode(), hashlib.sha256)
        return UUID(bytes=digest.digest()[:16], version=5)

    # -----------------------------------------------------------------------------------
    def _register(self, command: PatientCreate, patient_id: UUID | None) -> tuple[UUID, bool]:
        """(patient id, created?). A new patient's first code is requested in the same save.
        An address of an established patient (one who ever verified an address) stays
        theirs; one never proven goes to the newest registration, whose details the next
        verified code confirms (the older registration expires unverified and retention
        erases it). A racing registration of the same address makes this one look again."""
        patient_id = patient_id or uuid4()
        for _attempt in range(3):
            claim = self.claim(command.email)
            holder = None
            if claim is not None and claim.patient_id is not None:
                if claim.patient_id == patient_id:
                    return patient_id, False  # a retry of this registration, answered again
                holder = self.app.find(Patient, claim.patient_id)
                if holder is not None and holder.ever_verified and not holder.erased:
                    return claim.patient_id, False
            patient = Patient.register(patient_id, command.given_name, command.family_name,
                                       command.birth_date, command.email, command.phone,
                                       today=datetime.now(UTC).date())
            patient.request_sign_in_code()
            if claim is None:
                claim = EmailClaim(patient_id=patient.id,
                                   id=self.email_claim_id(command.email))
            else:  # never proven, or released by an erasure or an address change
                claim.take_over(patient.id, holder)
            if self.app.saved(patient, claim):
                return patient.id, True
        raise ConflictError("that address is being registered right now; try again")

    def _request_code(self, patient_id: UUID) -> None:
        """Recorded, then relayed: the notifier makes the code and emails it to the address
        on record (docs/messaging.md), so the request survives a crash once answered."""
        for attempt in range(3):
            patient = self.patient(patient_id)
            patient.request_sign_in_code()
            try:
                self.app.save(patient)
                return
            except IntegrityError:  # a racing request (or verification) saved first
                if attempt == 2:
                    raise

    def _change_contact(self, patient_id: UUID, email: str, phone: str | None) -> None:
        patient = self.patient(patient_id)
        old, new = patient.email, normalized_email(email)
        patient.change_contact_details(new, phone)
        changed: list[Aggregate] = [patient]
        if new != old:
            new_id, old_id = self.email_claim_id(new), self.email_claim_id(old)
            claims = self.app.get_many(new_id, old_id)
            claim = claims.get(new_id)
            if claim is None:
                claim = EmailClaim(patient_id=patient_id, id=new_id)
            else:
                claim.reclaim(patient_id)
            changed.append(claim)
            previous = claims.get(old_id)
            if isinstance(previous, EmailClaim):
                previous.release()
                changed.append(previous)
        try:
            self.app.save(*changed)
        except IntegrityError:
            raise EmailTakenError("that email address belongs to another patient") from None
