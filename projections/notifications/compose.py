"""What email a message calls for, built from the current state at send time.

A message carries ids only; the body comes from the aggregates now (the repository cannot lag
behind the message the way a read model can). So a patient erased since is never emailed, a
visit cancelled since gets no confirmation, a moved visit no reminder for its old time, and a
reminder goes out only with the patient's consent to email reminders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from domain.appointments import Appointment, AppointmentStatus
from domain.consent import Consent, Purpose
from domain.openings import Opening
from domain.patients import Patient
from domain.waitlist import EntryStatus, WaitlistEntry
from projections.notifications.emails import (
    ConfirmRequest,
    VisitSummary,
    cancellation_email,
    confirmation_email,
    missed_visit_email,
    reminder_email,
    rescheduled_email,
    sign_in_code_email,
    waitlist_offer_email,
)
from projections.ports import Aggregates, SignInCodes

CODE_REQUEST_LIFETIME = timedelta(minutes=10)  # older requests: the patient asked again

JoinUrl = Callable[[Appointment], str | None]


@dataclass(frozen=True)
class Email:
    patient_id: UUID
    message: EmailMessage


@dataclass(frozen=True)
class Skip:
    """Nothing to send, and why (PHI-free: it is logged and recorded)."""

    reason: str


class Composer:
    def __init__(self, app: Aggregates, codes: SignInCodes, sender: str,
                 join_url: JoinUrl, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 public_url: str = "http://127.0.0.1:8000") -> None:
        self.app, self.codes, self.sender = app, codes, sender
        self.join_url, self.clock = join_url, clock
        self.public_url = public_url.rstrip("/")

    def compose(self, name: str, record: dict[str, Any]) -> Email | Skip | None:
        """The email for a decoded message; None: this kind of message sends nothing."""
        if name == "SignInCodeRequested":
            return self._code(record["patient_id"], record["occurred_at"])
        if name == "WaitlistOffered":
            return self._offer(record)
        if name not in ("AppointmentBooked", "AppointmentRescheduled", "AppointmentCancelled",
                        "AppointmentNoShow", "ReminderDue"):
            return None
        appointment = self._get(record["appointment_id"])
        if not isinstance(appointment, Appointment):
            return Skip("unknown appointment")
        patient = self._get(appointment.patient_id)
        if not isinstance(patient, Patient) or patient.erased:
            return Skip("patient erased")
        booked = appointment.status is AppointmentStatus.booked
        if name == "AppointmentCancelled":
            if appointment.status is not AppointmentStatus.cancelled:
                return Skip("not cancelled")
            return self._email(patient, cancellation_email, appointment)
        if name == "AppointmentNoShow":
            if appointment.status is not AppointmentStatus.noshow:
                return Skip(f"visit is {appointment.status.value}")
            # The web page of the service's open times (not /slots, the JSON API).
            rebook = f"{self.public_url}/times?service_id={appointment.service_id}"
            return Email(patient.id, missed_visit_email(self.sender, patient.email,
                                                        self.visit(appointment), rebook))
        if not booked:
            return Skip(f"visit is {appointment.status.value}")
        if name == "AppointmentBooked":
            return Email(patient.id, confirmation_email(
                self.sender, patient.email, self.visit(appointment), self._ask(appointment)))
        if name == "AppointmentRescheduled":
            if appointment.start != record["start"]:
                return Skip("moved again since")
            return self._email(patient, rescheduled_email, appointment)
        # ReminderDue
        if appointment.start != record["appointment_start"]:
            return Skip("visit moved since")
        if appointment.start <= self.clock():
            return Skip("visit has started")
        consent = self._get(Consent.create_id(patient.id, Purpose.reminders_email.value))
        if not isinstance(consent, Consent) or not consent.active:
            return Skip("no consent to email reminders")
        visit = self.visit(appointment)
        return Email(patient.id, reminder_email(self.sender, patient.email, visit,
                                                record["offset_minutes"],
                                                self._ask(appointment)))

    def _ask(self, appointment: Appointment) -> ConfirmRequest | None:
        """The confirm link of a visit that awaits it, while there is time to confirm."""
        by = appointment.confirm_by
        if by is None or by <= self.clock():
            return None
        return ConfirmRequest(by, f"{self.public_url}/visits/{appointment.id}/confirm")

    def _code(self, patient_id: UUID, requested_at: datetime) -> Email | Skip:
        if self.clock() - requested_at > CODE_REQUEST_LIFETIME:
            return Skip("code request expired")
        patient = self._get(patient_id)
        if not isinstance(patient, Patient) or patient.erased:
            return Skip("patient erased")
        code = self.codes.issue(patient_id)  # made here: the code never travels in a message
        return Email(patient_id, sign_in_code_email(self.sender, patient.email, code))

    def _offer(self, record: dict[str, Any]) -> Email | Skip:
        """Only an offer still open, to a patient still here: an offer answered, declined or
        expired before the message was read sends nothing."""
        found = self.app.get_many(record["entry_id"], record["opening_id"],
                                  record["patient_id"])
        entry, opening = found.get(record["entry_id"]), found.get(record["opening_id"])
        patient = found.get(record["patient_id"])
        if not isinstance(patient, Patient) or patient.erased:
            return Skip("patient erased")
        if not isinstance(entry, WaitlistEntry) or not isinstance(opening, Opening) or \
                entry.status is not EntryStatus.offered or entry.offer is None or \
                entry.offer.offer_id != record["offer_id"] or \
                entry.offer.expires_at <= self.clock():
            return Skip("offer no longer open")
        freed = opening.freed
        names = self.app.get_many(freed.clinic_id, freed.provider_id, freed.service_id)
        clinic, provider, service = (names[freed.clinic_id], names[freed.provider_id],
                                     names[freed.service_id])
        visit = VisitSummary(
            appointment_id=opening.id, start=freed.start, end=freed.end,
            timezone=clinic.time_zone, clinic_name=clinic.name,
            provider_name=provider.display_name, service_name=service.name,
            modality=freed.modality, join_url=None, sequence=0)
        url = (f"{self.public_url}/waitlist/{entry.id}/offer"
               f"?offer_id={entry.offer.offer_id}")
        return Email(patient.id, waitlist_offer_email(self.sender, patient.email, visit,
                                                      entry.offer.expires_at, url))

    def _email(self, patient: Patient,
               build: Callable[[str, str, VisitSummary], EmailMessage],
               appointment: Appointment) -> Email:
        return Email(patient.id, build(self.sender, patient.email, self.visit(appointment)))

    def visit(self, appointment: Appointment) -> VisitSummary:
        found = self.app.get_many(appointment.clinic_id, appointment.provider_id,
                                  appointment.service_id)
        clinic, provider, service = (found[appointment.clinic_id],
                                     found[appointment.provider_id],
                                     found[appointment.service_id])
        return VisitSummary(
            appointment_id=appointment.id, start=appointment.start, end=appointment.end,
            timezone=clinic.time_zone, clinic_name=clinic.name,
            provider_name=provider.display_name, service_name=service.name,
            modality=appointment.modality, join_url=self.join_url(appointment),
            sequence=appointment.version - 1)

    def _get(self, aggregate_id: UUID) -> Any:
        return self.app.get_many(aggregate_id).get(aggregate_id)
