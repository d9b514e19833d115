"""Patient: who is cared for, and whether their email address has been proven theirs.

Names, birth date and contact details are PHI: each event declares them (`phi`), and the
infrastructure encrypts exactly those with the patient's own key. Erasure records a PHI-free
event; the key is then destroyed, and the PHI in every earlier event reads as erased.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import NotFoundError, RuleViolationError
from domain.privacy import PHI, SELF
from domain.text import plain_text

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE = re.compile(r"^\+?[0-9 ()\-]{7,20}$")


class InvalidPatientError(RuleViolationError):
    code = "invalid-patient"


def normalized_email(email: str) -> str:
    clean = plain_text(email, "the email address").strip().lower()
    if len(clean) > 254 or not EMAIL.match(clean):
        raise InvalidPatientError("that is not an email address")
    return clean


def _checked_phone(phone: str | None) -> str | None:
    if phone is None or not plain_text(phone, "the phone number").strip():
        return None
    if not PHONE.match(phone.strip()):
        raise InvalidPatientError("that is not a phone number")
    return phone.strip()


def _checked_birth_date(birth_date: date, today: date) -> str:
    if birth_date > today or birth_date.year < today.year - 130:
        raise InvalidPatientError("the birth date is not plausible")
    return birth_date.isoformat()


class PatientErasedError(NotFoundError):
    code = "patient-erased"


class ErasureBasis(StrEnum):
    retention = "retention-policy"  # the retention period after the last activity ended
    request = "patient-request"  # the patient asked (where law allows)
    legal = "legal-order"


_IDENTITY = frozenset({"given_name", "family_name", "birth_date", "email", "phone"})


class Patient(Aggregate):
    class Registered(Aggregate.Created):
        given_name: str
        family_name: str
        birth_date: str
        email: str
        phone: str | None

        phi = PHI(_IDENTITY, subject=SELF)

    class EmailVerified(Aggregate.Event):
        pass

    class SignInCodeRequested(Aggregate.Event):
        """A code is owed to the address on record; the notifier makes and sends it, so the
        code itself is never stored or published."""

    class ContactDetailsChanged(Aggregate.Event):
        email: str
        phone: str | None

        phi = PHI(frozenset({"email", "phone"}), subject=SELF)

    class Erased(Aggregate.Event):
        """PHI-free: why the patient's data was erased. The key goes right after."""

        basis: str

    phi = PHI(_IDENTITY, subject=SELF)  # snapshots of a patient

    @classmethod
    def register(cls, patient_id: UUID, given_name: str, family_name: str, birth_date: date,
                 email: str, phone: str | None, today: date) -> Patient:
        given = plain_text(given_name, "the given name").strip()
        family = plain_text(family_name, "the family name").strip()
        if not given or not family or len(given) > 100 or len(family) > 100:
            raise InvalidPatientError("given and family names are required (100 characters max)")
        return cls(given, family, _checked_birth_date(birth_date, today),
                   normalized_email(email), _checked_phone(phone), id=patient_id)

    @event(Registered)
    def __init__(self, given_name: str, family_name: str, birth_date: str, email: str,
                 phone: str | None, id: UUID | None = None) -> None:
        self.given_name = given_name
        self.family_name = family_name
        self.birth_date = birth_date
        self.email = email
        self.phone = phone
        self.email_verified = False
        self.ever_verified = False  # proven control of an address once: an established patient
        self.erased = False

    def verify_email(self) -> None:
        if not self.email_verified:
            self._email_verified()

    @event(EmailVerified)
    def _email_verified(self) -> None:
        self.email_verified = self.ever_verified = True

    def request_sign_in_code(self) -> None:
        self.require_present()
        self._code_requested()

    @event(SignInCodeRequested)
    def _code_requested(self) -> None:
        pass

    def change_contact_details(self, email: str, phone: str | None) -> None:
        """A new email address must be proven again before the next booking."""
        self._contact_changed(normalized_email(email), _checked_phone(phone))

    @event(ContactDetailsChanged)
    def _contact_changed(self, email: str, phone: str | None) -> None:
        if email != self.email:
            self.email_verified = False
        self.email = email
        self.phone = phone

    def erase(self, basis: ErasureBasis) -> None:
        if not self.erased:
            self._erased(basis.value)

    @event(Erased)
    def _erased(self, basis: str) -> None:
        self.erased = True
        self.email_verified = False

    def require_present(self) -> None:
        if self.erased:
            raise PatientErasedError(f"patient {self.id} was erased")

    def profile(self) -> dict[str, Any]:
        return {"id": self.id, "given_name": self.given_name, "family_name": self.family_name,
                "birth_date": self.birth_date, "email": self.email, "phone": self.phone,
                "email_verified": self.email_verified}


class EmailTakenError(RuleViolationError):
    code = "email-taken"


class EmailClaim(Aggregate):
    """One patient per email address: the claim's id is a keyed hash of the address, so
    claiming it twice collides in the event store, and the address itself is not stored."""

    class Claimed(Aggregate.Created):
        patient_id: UUID

    class Released(Aggregate.Event):
        pass

    class Reclaimed(Aggregate.Event):
        patient_id: UUID

    @event(Claimed)
    def __init__(self, patient_id: UUID, id: UUID | None = None) -> None:
        self.patient_id: UUID | None = patient_id
        self.contested = False  # registered more than once: the first sign-in names which

    def release(self) -> None:
        if self.patient_id is not None:
            self._released()

    @event(Released)
    def _released(self) -> None:
        self.patient_id = None

    def take_over(self, patient_id: UUID, holder: Patient | None) -> None:
        """A new registration of an address its holder never proved (the code was never
        verified) takes the address: whoever verifies a code next gets the details they
        registered with, not a squatter's. A proven address stays its holder's."""
        if holder is not None and holder.ever_verified and not holder.erased:
            raise EmailTakenError("that email address belongs to another patient")
        if self.patient_id != patient_id:
            self._reclaimed(patient_id)

    def reclaim(self, patient_id: UUID) -> None:
        if self.patient_id not in (None, patient_id):
            raise EmailTakenError("that email address belongs to another patient")
        if self.patient_id is None:
            self._reclaimed(patient_id)

    @event(Reclaimed)
    def _reclaimed(self, patient_id: UUID) -> None:
        self.patient_id = patient_id
        self.contested = True
