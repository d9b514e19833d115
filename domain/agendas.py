"""PatientAgenda: one patient's upcoming visits, the consistency boundary for the patient's
own rules: no two visits at once, and no more upcoming visits than the clinic allows.

Saved in the same atomic write as the appointment and the provider's calendars, like
ProviderCalendar: two racing bookings of one patient read the same agenda version and only
one write of the next version succeeds; the other re-reads and sees the first visit.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError, RuleViolationError

AGENDA_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:patient-agenda")


class PatientBusyError(ConflictError):
    code = "patient-has-a-visit-then"


class UpcomingVisitLimitError(RuleViolationError):
    code = "upcoming-visit-limit"


class PatientAgenda(Aggregate):
    class Opened(Aggregate.Created):
        patient_id: UUID

    class Reserved(Aggregate.Event):
        appointment_id: UUID
        start: datetime
        end: datetime
        over_limit: bool  # staff booked beyond the limit (the event's actor says who)

    class Released(Aggregate.Event):
        appointment_id: UUID

    @staticmethod
    def create_id(patient_id: UUID) -> UUID:
        return uuid5(AGENDA_NAMESPACE, str(patient_id))

    @event(Opened)
    def __init__(self, patient_id: UUID) -> None:
        self.patient_id = patient_id
        self.visits: dict[UUID, tuple[datetime, datetime]] = {}

    def upcoming(self, now: datetime) -> int:
        return sum(1 for _, end in self.visits.values() if end > now)

    def reserve(self, appointment_id: UUID, start: datetime, end: datetime, now: datetime,
                limit: int, *, exceed_limit: bool = False) -> None:
        """Refuse a visit overlapping another of the patient's, and one over the limit of
        upcoming visits unless staff override it. A reschedule moves its own visit."""
        for other, (s, e) in self.visits.items():
            if other != appointment_id and s < end and start < e:
                raise PatientBusyError("you already have a visit at that time")
        moving = appointment_id in self.visits
        over = not moving and self.upcoming(now) >= limit
        if over and not exceed_limit:
            raise UpcomingVisitLimitError(
                f"no more than {limit} upcoming visits; cancel one, or ask the front desk")
        if self.visits.get(appointment_id) != (start, end):
            self._reserved(appointment_id, start, end, over)

    @event(Reserved)
    def _reserved(self, appointment_id: UUID, start: datetime, end: datetime,
                  over_limit: bool) -> None:
        self.visits[appointment_id] = (start, end)

    def release(self, appointment_id: UUID) -> None:
        if appointment_id in self.visits:
            self._released(appointment_id)

    @event(Released)
    def _released(self, appointment_id: UUID) -> None:
        del self.visits[appointment_id]
