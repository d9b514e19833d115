"""Patient use cases: register, prove the email address, change contact details, consent,
and erasure (crypto-shredding: docs/privacy.md)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from commands.base import UseCases
from commands.ports import PersonalDataKeys
from domain.consent import Consent, Purpose
from domain.errors import NotFoundError
from domain.patients import (
    EmailClaim,
    EmailTakenError,
    ErasureBasis,
    Patient,
    normalized_email,
)
from domain.privacy import ERASED


class PatientUseCases(UseCases):
    email_key: bytes = b"set-by-the-application"
    data_keys: PersonalDataKeys | None = None

    def email_claim_id(self, email: str) -> UUID:
        """A keyed hash of the address: the id reveals nothing without the key."""
        digest = hmac.new(self.email_key, normalized_email(email).encode(), hashlib.sha256)
        return UUID(bytes=digest.digest()[:16], version=5)

    def register_patient(self, given_name: str, family_name: str, birth_date: date,
                         email: str, phone: str | None, patient_id: UUID | None = None
                         ) -> tuple[UUID, bool]:
        """Return (patient id, created?). A registered address keeps its patient unchanged.
        A new patient's first sign-in code is requested in the same save."""
        claim = self._claim(email)
        if claim is not None and claim.patient_id is not None:
            return claim.patient_id, False
        patient = Patient.register(patient_id or uuid4(), given_name, family_name, birth_date,
                                   email, phone, today=datetime.now(UTC).date())
        patient.request_sign_in_code()
        if claim is None:
            claim = EmailClaim(patient_id=patient.id, id=self.email_claim_id(email))
        else:  # released by an erasure or an address change: free to claim again
            claim.reclaim(patient.id)
        try:
            self.save(patient, claim)
        except IntegrityError:
            # A racing registration of the same address (or a retried one) won.
            winner = self.patient_for_email(email)
            if winner is None:
                raise
            return winner, False
        return patient.id, True

    def patient_for_email(self, email: str) -> UUID | None:
        claim = self._claim(email)
        return claim.patient_id if claim is not None else None

    def _claim(self, email: str) -> EmailClaim | None:
        return self._find(EmailClaim, self.email_claim_id(email))

    def patient(self, patient_id: UUID) -> Patient:
        """A patient who is still on record (an erased one answers PatientErasedError)."""
        patient = self._get(Patient, patient_id, "patient")
        patient.require_present()
        return patient

    def record_erasure(self, patient_id: UUID, basis: ErasureBasis) -> bool:
        """The first step of erasure (docs/privacy.md): a PHI-free event, and the email
        address freed. From here on the patient is refused everywhere. True if this call
        recorded it (False: recorded before)."""
        patient: Patient = self._get(Patient, patient_id, "patient")
        if patient.erased:
            return False
        changed: list[Aggregate] = [patient]
        if patient.email != ERASED:
            claim = self._claim(patient.email)
            if claim is not None and claim.patient_id == patient_id:
                claim.release()
                changed.append(claim)
        patient.erase(basis)
        self.save(*changed)
        return True

    def shred_personal_data(self, patient_id: UUID) -> None:
        """The point of no return: the patient's key is destroyed, so the PHI in every
        event, snapshot and read model about them is unreadable for good."""
        patient: Patient = self._get(Patient, patient_id, "patient")
        if not patient.erased:
            raise RuntimeError("record the erasure before shredding the key")
        if self.data_keys is not None:
            self.data_keys.shred(patient_id)

    def request_sign_in_code(self, patient_id: UUID) -> None:
        """Recorded, then relayed: the notifier makes the code and emails it to the address
        on record (docs/messaging.md), so the request survives a crash once answered."""
        for attempt in range(3):
            patient = self.patient(patient_id)
            patient.request_sign_in_code()
            try:
                self.save(patient)
                return
            except IntegrityError:  # a racing request (or verification) saved first
                if attempt == 2:
                    raise

    def verify_patient_email(self, patient_id: UUID) -> None:
        patient = self.patient(patient_id)
        patient.verify_email()
        self.save(patient)

    def change_contact_details(self, patient_id: UUID, email: str, phone: str | None) -> None:
        patient = self.patient(patient_id)
        old, new = patient.email, normalized_email(email)
        patient.change_contact_details(new, phone)
        changed: list[Aggregate] = [patient]
        if new != old:
            new_id, old_id = self.email_claim_id(new), self.email_claim_id(old)
            claims = self._get_many(new_id, old_id)
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
            self.save(*changed)
        except IntegrityError:
            raise EmailTakenError("that email address belongs to another patient") from None

    # Consent ---------------------------------------------------------------------------
    def grant_consent(self, patient_id: UUID, purpose: Purpose, policy_version: str,
                      method: str) -> Consent:
        self.patient(patient_id)
        consent = self.consent(patient_id, purpose)
        if consent is None:
            consent = Consent.grant_new(patient_id, purpose, policy_version, method)
        else:
            consent.grant(policy_version, method)
        self.save(consent)
        return consent

    def revoke_consent(self, patient_id: UUID, purpose: Purpose, method: str) -> Consent:
        consent = self.consent(patient_id, purpose)
        if consent is None:
            raise NotFoundError(f"no {purpose.value} consent to revoke")
        consent.revoke(method)
        self.save(consent)
        return consent

    def consent(self, patient_id: UUID, purpose: Purpose) -> Consent | None:
        return self._find(Consent, Consent.create_id(patient_id, purpose.value))
