"""A booked visit's life after booking: cancel, check in, complete, no-show, discharge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from commands.application import ClinicApplication
from commands.calendars import around, holding
from commands.context import SYSTEM_ACTOR, Actor, acting_as
from commands.inputs import PlainText
from commands.models import Strict
from domain.agendas import PatientAgenda
from domain.appointments import Appointment, InvalidTransitionError
from domain.calendars import ProviderCalendar
from domain.errors import ConflictError, NotFoundError, PreconditionFailedError
from domain.record_access import require_appointment

MAX_ATTEMPTS = 5


class VersionMismatchError(PreconditionFailedError):
    """If-Match named another version than the appointment's (decision 0046)."""

    code = "version-mismatch"

    def __init__(self, detail: str, current: int) -> None:
        super().__init__(detail)
        self.current = current

    def extensions(self) -> dict[str, str]:
        return {"current_version": str(self.current)}


class BookingPublic(BaseModel):
    """An appointment without its reason: safe to echo, cache and log by id."""

    id: UUID
    patient_id: UUID
    provider_id: UUID
    clinic_id: UUID
    service_id: UUID
    slot_id: UUID
    start: datetime
    end: datetime
    modality: str
    status: str
    late_cancellation: bool
    version: int = Field(1, description="The appointment's version: 1 when booked, one more "
                                        "with every change (ETag, If-Match; decision 0046)")
    discharged: bool = Field(False, description="A completed visit whose discharge summary "
                                                "was filed (its reference: GET .../discharge)")
    confirm_by: datetime | None = Field(
        None, description="After repeated no-shows: confirm the visit before then (POST "
                          ".../confirm) or it is released to the waitlist; null: nothing to do")

    @classmethod
    def of(cls, appointment: Appointment) -> BookingPublic:
        details = appointment.details()
        details.pop("reason")
        return cls(**details, version=appointment.version, discharged=appointment.discharged)


class Discharge(Strict):
    summary_ref: Annotated[PlainText, Field(
        min_length=1, max_length=500,
        description="Where the discharge summary is filed: a document id or URL (PHI: sealed "
                    "like the visit reason; never clinical text)")]


class DischargeSummary(BaseModel):
    appointment_id: UUID
    patient_id: UUID
    summary_ref: str


class Visits:
    def __init__(self, app: ClinicApplication, cancellation_cutoff: timedelta) -> None:
        self.app, self.cancellation_cutoff = app, cancellation_cutoff

    def appointment(self, appointment_id: UUID, version: int | None = None) -> Appointment:
        """The appointment; at `version` if one is expected (If-Match), else refused."""
        appointment = self.app.get(Appointment, appointment_id, "appointment")
        if version is not None and appointment.version != version:
            raise VersionMismatchError(
                f"the appointment is at version {appointment.version}, not {version}: "
                "read it again", appointment.version)
        return appointment

    def reachable(self, appointment_id: UUID, actor: Actor) -> Appointment:
        """The appointment, if the record-level policy lets this actor reach it."""
        appointment = self.appointment(appointment_id)
        require_appointment(actor, appointment_id, appointment.patient_id,
                            appointment.provider_id, appointment.clinic_id)
        return appointment

    def cancel(self, appointment_id: UUID, now: datetime, note: str = "",
               version: int | None = None) -> Appointment:
        """Gives the provider's time back in the same write (the caller checked access)."""
        return self._given_back(appointment_id, version, lambda appointment: appointment.cancel(
            now, self.cancellation_cutoff, note))

    def _given_back(self, appointment_id: UUID, version: int | None,
                    step: Callable[[Appointment], None]) -> Appointment:
        for _attempt in range(MAX_ATTEMPTS):
            appointment = self.appointment(appointment_id, version)
            step(appointment)
            agenda_id = PatientAgenda.create_id(appointment.patient_id)
            loaded = self.app.get_many(agenda_id, *around(appointment.provider_id,
                                                          appointment.start, appointment.end))
            freed: list[ProviderCalendar | PatientAgenda] = [*holding(loaded, appointment_id)]
            if (agenda := loaded.get(agenda_id)) is not None:
                freed.append(agenda)
            for held in freed:
                held.release(appointment_id)
            if self.app.saved(appointment, *freed):
                return appointment
        raise ConflictError("the appointment changed meanwhile; please try again")

    def check_in(self, appointment_id: UUID, actor: Actor) -> BookingPublic:
        """The patient has arrived (or joined the video visit)."""
        return self._day_of(appointment_id, actor, "check-in", Appointment.check_in)

    def complete(self, appointment_id: UUID, actor: Actor) -> BookingPublic:
        """The visit took place; a fulfilled visit keeps its time on the calendar."""
        return self._day_of(appointment_id, actor, "visit completed", Appointment.complete)

    def mark_no_show(self, appointment_id: UUID, actor: Actor) -> BookingPublic:
        """The patient did not come (only once the visit's time has begun)."""
        self.reachable(appointment_id, actor)
        with acting_as(actor.doing("no-show")):
            return BookingPublic.of(self.no_show_at(appointment_id, datetime.now(UTC)))

    def discharge(self, appointment_id: UUID, command: Discharge,
                  actor: Actor) -> BookingPublic:
        """File a completed visit's discharge summary by reference; downstream systems hear
        of it (VisitDischarged on Kafka, ids only)."""
        return self._day_of(appointment_id, actor, "discharge",
                            lambda appointment: appointment.discharge(command.summary_ref))

    def discharge_summary(self, appointment_id: UUID, actor: Actor) -> DischargeSummary:
        """Where a discharged visit's summary is filed (a read of PHI: the caller audits)."""
        appointment = self.reachable(appointment_id, actor)
        if not appointment.discharged:
            raise NotFoundError(f"visit {appointment_id} has no discharge summary")
        return DischargeSummary(appointment_id=appointment_id,
                                patient_id=appointment.patient_id,
                                summary_ref=appointment.summary_ref)

    def confirm(self, appointment_id: UUID, actor: Actor) -> BookingPublic:
        """The patient says they are coming (the patient, or staff who spoke to them)."""
        return self._day_of(appointment_id, actor, "visit confirmed",
                            lambda appointment: appointment.confirm(datetime.now(UTC)))

    def release_unconfirmed(self, appointment_id: UUID, now: datetime) -> bool:
        """Release a visit whose time to confirm is over, as the clinic (the reminder worker
        calls it); False if it was confirmed, moved or cancelled meanwhile."""
        try:
            with acting_as(SYSTEM_ACTOR.doing("unconfirmed visit released")):
                self._given_back(appointment_id, None,
                                 lambda appointment: appointment.release_unconfirmed(now))
        except (NotFoundError, InvalidTransitionError, ConflictError):
            return False
        return True

    def no_show_at(self, appointment_id: UUID, now: datetime) -> Appointment:
        """The decision, once access is settled: `now` is when the absence is recorded. The
        patient's agenda records it in the same write (the no-show rule counts them)."""
        for _attempt in range(MAX_ATTEMPTS):
            appointment = self.appointment(appointment_id)
            appointment.mark_no_show(now)
            agenda_id = PatientAgenda.create_id(appointment.patient_id)
            agenda = self.app.find(PatientAgenda, agenda_id) or \
                PatientAgenda(patient_id=appointment.patient_id)
            agenda.record_no_show(appointment_id, appointment.start)
            if self.app.saved(appointment, agenda):
                return appointment
        raise ConflictError("the appointment changed meanwhile; please try again")

    def _day_of(self, appointment_id: UUID, actor: Actor, reason: str,
                step: Callable[[Appointment], None]) -> BookingPublic:
        appointment = self.reachable(appointment_id, actor)
        with acting_as(actor.doing(reason)):
            step(appointment)
            self.app.save(appointment)
        return BookingPublic.of(appointment)
