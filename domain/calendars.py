"""ProviderCalendar: the consistency boundary that makes double booking impossible.

One aggregate per provider and UTC day holds that day's reservations. Booking appends to
every calendar the visit touches in the same atomic save as the appointment; two racing
bookings read the same calendar version and only one write of the next version succeeds.
The day is a UTC day so that one provider's visits at clinics in different time zones meet
in the same calendar.

A visit blocks its time and its buffers (the provider's preparation before and notes after,
from the rules of the schedule it was booked under): two visits conflict when their buffered
spans overlap, and a visit is reserved in every calendar its buffered span touches, so two
racing bookings that would conflict always write one calendar in common.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError

CALENDAR_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:provider-calendar")


class SlotTakenError(ConflictError):
    code = "slot-taken"


class Reservation(NamedTuple):
    start: datetime
    end: datetime
    clinic_id: UUID
    before: timedelta = timedelta(0)  # buffer the provider keeps free before the visit
    after: timedelta = timedelta(0)  # and after it

    @property
    def blocked(self) -> tuple[datetime, datetime]:
        return self.start - self.before, self.end + self.after


def calendar_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days a visit [start, end) touches."""
    first, last = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(
        UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class ProviderCalendar(Aggregate):
    class Opened(Aggregate.Created):
        provider_id: UUID
        day: str

    class Reserved(Aggregate.Event):
        appointment_id: UUID
        start: datetime
        end: datetime
        clinic_id: UUID
        buffer_before_minutes: int
        buffer_after_minutes: int

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["buffer_before_minutes"] = state["buffer_after_minutes"] = 0

    class RulesRevised(Aggregate.Event):
        """The provider's hours changed on this day: a booking that read the old rules and
        a rule change that read this calendar cannot both be saved (decision 0037)."""

        schedule_id: UUID

    class Released(Aggregate.Event):
        appointment_id: UUID

    @staticmethod
    def create_id(provider_id: UUID, day: str) -> UUID:
        return uuid5(CALENDAR_NAMESPACE, f"{provider_id}/{day}")

    @event(Opened)
    def __init__(self, provider_id: UUID, day: str) -> None:
        self.provider_id = provider_id
        self.day = day
        self.reservations: dict[UUID, Reservation] = {}

    def reserve(self, appointment_id: UUID, start: datetime, end: datetime,
                clinic_id: UUID, before: timedelta = timedelta(0),
                after: timedelta = timedelta(0)) -> None:
        wanted = Reservation(start, end, clinic_id, before, after)
        lo, hi = wanted.blocked
        for other, reservation in self.reservations.items():
            other_lo, other_hi = reservation.blocked
            if other != appointment_id and other_lo < hi and lo < other_hi:
                raise SlotTakenError("that time was just booked; please pick another")
        if appointment_id not in self.reservations:
            self._reserved(appointment_id, start, end, clinic_id,
                           _minutes(before), _minutes(after))

    @event(Reserved)
    def _reserved(self, appointment_id: UUID, start: datetime, end: datetime,
                  clinic_id: UUID, buffer_before_minutes: int,
                  buffer_after_minutes: int) -> None:
        self.reservations[appointment_id] = Reservation(
            start, end, clinic_id, timedelta(minutes=buffer_before_minutes),
            timedelta(minutes=buffer_after_minutes))

    def revise_rules(self, schedule_id: UUID) -> None:
        self._rules_revised(schedule_id)

    @event(RulesRevised)
    def _rules_revised(self, schedule_id: UUID) -> None:
        pass

    def release(self, appointment_id: UUID) -> None:
        if appointment_id in self.reservations:
            self._released(appointment_id)

    @event(Released)
    def _released(self, appointment_id: UUID) -> None:
        del self.reservations[appointment_id]


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)
