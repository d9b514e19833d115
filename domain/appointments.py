"""Appointment (FHIR Appointment): one patient's visit with one provider, and its lifecycle.

booked -> checked-in -> fulfilled (-> discharged, with a reference to the summary); booked ->
cancelled | noshow; booked -> booked (rescheduled). After repeated no-shows a booked visit may
await the patient's confirmation: confirmed, or released (cancelled, not late) when the time
to confirm is over (docs/attendance.md). The visit reason, cancellation note and
discharge summary reference are PHI, encrypted with the patient's key (see `phi` on each
event).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolationError
from domain.privacy import PHI
from domain.text import plain_text


class AppointmentStatus(StrEnum):
    booked = "booked"
    checked_in = "checked-in"
    fulfilled = "fulfilled"
    cancelled = "cancelled"
    noshow = "noshow"


class InvalidTransitionError(RuleViolationError):
    code = "invalid-status-transition"


class HandOffCause(StrEnum):
    """Why a visit went to another provider: a code, never free text (no PHI in it)."""

    provider_unavailable = "provider-unavailable"
    clinical_need = "clinical-need"
    patient_request = "patient-request"
    schedule_change = "schedule-change"
    other = "other"


class Appointment(Aggregate):
    class Booked(Aggregate.Created):
        patient_id: UUID
        provider_id: UUID
        clinic_id: UUID
        service_id: UUID
        slot_id: UUID
        start: datetime
        end: datetime
        modality: str
        reason: str

        phi = PHI(frozenset({"reason"}), subject="patient_id")

    class Cancelled(Aggregate.Event):
        late: bool
        note: str
        patient_id: UUID | None  # whose key seals the note (None: before version 2)

        phi = PHI(frozenset({"note"}), subject="patient_id")
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["patient_id"] = None

    class Rescheduled(Aggregate.Event):
        slot_id: UUID
        start: datetime
        end: datetime
        previous_slot_id: UUID
        previous_start: datetime
        previous_end: datetime

    class HandedOff(Aggregate.Event):
        """Another provider takes the visit: same clinic, service, time and patient."""

        from_provider_id: UUID
        to_provider_id: UUID
        start: datetime
        end: datetime
        cause: str = ""  # a HandOffCause; "" in hand-offs recorded before causes were kept

    class CheckedIn(Aggregate.Event):
        pass

    class Fulfilled(Aggregate.Event):
        pass

    class MarkedNoShow(Aggregate.Event):
        pass

    class ConfirmationRequested(Aggregate.Event):
        """The clinic's no-show rule asks the patient to confirm: unconfirmed, the visit is
        released `release_minutes` before its start (wherever it is moved to)."""

        release_minutes: int

    class Confirmed(Aggregate.Event):
        pass

    class ConfirmationLapsed(Aggregate.Event):
        """Not confirmed in time: the visit is released (a Cancelled event follows)."""

    class Discharged(Aggregate.Event):
        """The visit's discharge summary is filed elsewhere (an EHR): only its reference is
        kept, sealed as PHI (a URL or document id can name the patient)."""

        summary_ref: str
        patient_id: UUID  # whose key seals the reference

        phi = PHI(frozenset({"summary_ref"}), subject="patient_id")

    phi = PHI(frozenset({"reason", "summary_ref"}), subject="patient_id")  # snapshots

    @classmethod
    def book(cls, patient_id: UUID, provider_id: UUID, clinic_id: UUID, service_id: UUID,
             slot_id: UUID, start: datetime, end: datetime, modality: str, reason: str,
             id: UUID | None = None) -> Appointment:
        plain_text(reason, "the visit reason", multiline=True)
        return cls(patient_id=patient_id, provider_id=provider_id, clinic_id=clinic_id,
                   service_id=service_id, slot_id=slot_id, start=start, end=end,
                   modality=modality, reason=reason, id=id)

    @event(Booked)
    def __init__(self, patient_id: UUID, provider_id: UUID, clinic_id: UUID, service_id: UUID,
                 slot_id: UUID, start: datetime, end: datetime, modality: str, reason: str,
                 id: UUID | None = None) -> None:
        self.patient_id, self.provider_id, self.clinic_id = patient_id, provider_id, clinic_id
        self.service_id, self.slot_id, self.modality = service_id, slot_id, modality
        self.start, self.end = start, end
        self.reason = reason
        self.status = AppointmentStatus.booked
        self.late_cancellation = False
        self.discharged = False
        self.summary_ref = ""

    release_before: timedelta | None = None  # awaiting confirmation (class default: old states)
    confirmed = False

    @property
    def confirm_by(self) -> datetime | None:
        """Until when the patient may confirm a visit that awaits it; None: nothing to do."""
        if self.release_before is None or self.confirmed or \
                self.status is not AppointmentStatus.booked:
            return None
        return self.start - self.release_before

    def require_confirmation(self, release_before: timedelta) -> None:
        if self.release_before is None:
            self._confirmation_requested(int(release_before.total_seconds() // 60))

    @event(ConfirmationRequested)
    def _confirmation_requested(self, release_minutes: int) -> None:
        self.release_before = timedelta(minutes=release_minutes)

    def confirm(self, now: datetime) -> None:
        """The patient is coming. Nothing to do for a visit that asks no confirmation or is
        confirmed already; too late once the time to confirm is over."""
        self._require(AppointmentStatus.booked, "confirm")
        confirm_by = self.confirm_by
        if confirm_by is None:
            return
        if now >= confirm_by:
            raise InvalidTransitionError("the time to confirm this visit is over")
        self._confirmed()

    @event(Confirmed)
    def _confirmed(self) -> None:
        self.confirmed = True

    def release_unconfirmed(self, now: datetime) -> None:
        """Not confirmed in time: the visit is cancelled by the clinic (not a late
        cancellation by the patient) and its time goes to the waitlist."""
        confirm_by = self.confirm_by
        if confirm_by is None or now < confirm_by:
            raise InvalidTransitionError("the visit is not awaiting a lapsed confirmation")
        self._confirmation_lapsed()
        self._cancelled(late=False, note="", patient_id=self.patient_id)

    @event(ConfirmationLapsed)
    def _confirmation_lapsed(self) -> None:
        pass

    def cancel(self, now: datetime, cutoff: timedelta, note: str) -> None:
        self._require(AppointmentStatus.booked, "cancel")
        plain_text(note, "the note", multiline=True)
        if now >= self.start:
            raise InvalidTransitionError("the visit has started; mark it fulfilled or no-show")
        self._cancelled(late=self.start - now < cutoff, note=note, patient_id=self.patient_id)

    @event(Cancelled)
    def _cancelled(self, late: bool, note: str, patient_id: UUID | None) -> None:
        self.status = AppointmentStatus.cancelled
        self.late_cancellation = late

    def reschedule(self, slot_id: UUID, start: datetime, end: datetime, now: datetime) -> None:
        self._require(AppointmentStatus.booked, "reschedule")
        if now >= self.start:
            raise InvalidTransitionError("the visit has started and cannot be moved")
        self._rescheduled(slot_id, start, end, self.slot_id, self.start, self.end)
        if (confirm_by := self.confirm_by) is not None and now >= confirm_by:
            self._confirmed()  # moved close to its start: choosing the time confirms it

    @event(Rescheduled)
    def _rescheduled(self, slot_id: UUID, start: datetime, end: datetime,
                     previous_slot_id: UUID, previous_start: datetime,
                     previous_end: datetime) -> None:
        self.slot_id, self.start, self.end = slot_id, start, end

    def hand_off(self, to_provider_id: UUID, now: datetime,
                 cause: HandOffCause = HandOffCause.other) -> None:
        """A booked or checked-in visit goes to a colleague (the patient in the waiting room
        keeps their time); once the visit's time is over it stays with its provider."""
        if self.status not in (AppointmentStatus.booked, AppointmentStatus.checked_in):
            raise InvalidTransitionError(f"cannot hand off an appointment that is "
                                         f"{self.status}")
        if now >= self.end:
            raise InvalidTransitionError("the visit's time is over; it stays with its provider")
        if to_provider_id == self.provider_id:
            raise RuleViolationError("the visit is already with that provider")
        self._handed_off(self.provider_id, to_provider_id, self.start, self.end, cause.value)

    @event(HandedOff)
    def _handed_off(self, from_provider_id: UUID, to_provider_id: UUID, start: datetime,
                    end: datetime, cause: str = "") -> None:
        self.provider_id = to_provider_id

    def check_in(self) -> None:
        self._require(AppointmentStatus.booked, "check in")
        self._checked_in()

    @event(CheckedIn)
    def _checked_in(self) -> None:
        self.status = AppointmentStatus.checked_in

    def complete(self) -> None:
        self._require(AppointmentStatus.checked_in, "complete")
        self._fulfilled()

    @event(Fulfilled)
    def _fulfilled(self) -> None:
        self.status = AppointmentStatus.fulfilled

    def mark_no_show(self, now: datetime) -> None:
        self._require(AppointmentStatus.booked, "mark as no-show")
        if now < self.start:
            raise InvalidTransitionError("a visit that has not started cannot be a no-show")
        self._no_show()

    @event(MarkedNoShow)
    def _no_show(self) -> None:
        self.status = AppointmentStatus.noshow

    def discharge(self, summary_ref: str) -> None:
        """A completed visit is discharged once, with the reference to its summary."""
        self._require(AppointmentStatus.fulfilled, "discharge")
        if self.discharged:
            raise InvalidTransitionError("the visit was discharged already")
        plain_text(summary_ref, "the discharge summary reference")
        self._discharged(summary_ref, self.patient_id)

    @event(Discharged)
    def _discharged(self, summary_ref: str, patient_id: UUID) -> None:
        self.discharged = True
        self.summary_ref = summary_ref

    @property
    def holds_time(self) -> bool:
        """Whether the appointment still occupies the provider's calendar."""
        return self.status in (AppointmentStatus.booked, AppointmentStatus.checked_in)

    def _require(self, status: AppointmentStatus, action: str) -> None:
        if self.status is not status:
            raise InvalidTransitionError(f"cannot {action} an appointment that is {self.status}")

    def details(self) -> dict[str, Any]:
        return {"id": self.id, "patient_id": self.patient_id, "provider_id": self.provider_id,
                "clinic_id": self.clinic_id, "service_id": self.service_id,
                "slot_id": self.slot_id, "start": self.start, "end": self.end,
                "modality": self.modality, "reason": self.reason, "status": self.status.value,
                "late_cancellation": self.late_cancellation, "confirm_by": self.confirm_by}
