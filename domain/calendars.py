"""ProviderCalendar: the consistency boundary that makes double booking impossible.

One aggregate per provider and UTC day holds that day's reservations. Booking appends to
every calendar the visit touches in the same atomic save as the appointment; two racing
bookings read the same calendar version and only one write of the next version succeeds.
The day is a UTC day so that one provider's visits at clinics in different time zones meet
in the same calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError

CALENDAR_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:provider-calendar")


class SlotTakenError(ConflictError):
    code = "slot-taken"


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

    class Released(Aggregate.Event):
        appointment_id: UUID

    @staticmethod
    def create_id(provider_id: UUID, day: str) -> UUID:
        return uuid5(CALENDAR_NAMESPACE, f"{provider_id}/{day}")

    @event(Opened)
    def __init__(self, provider_id: UUID, day: str) -> None:
        self.provider_id = provider_id
        self.day = day
        self.reservations: dict[UUID, tuple[datetime, datetime, UUID]] = {}

    def reserve(self, appointment_id: UUID, start: datetime, end: datetime,
                clinic_id: UUID) -> None:
        for other, (s, e, _) in self.reservations.items():
            if other != appointment_id and s < end and start < e:
                raise SlotTakenError("that time was just booked; please pick another")
        if appointment_id not in self.reservations:
            self._reserved(appointment_id, start, end, clinic_id)

    @event(Reserved)
    def _reserved(self, appointment_id: UUID, start: datetime, end: datetime,
                  clinic_id: UUID) -> None:
        self.reservations[appointment_id] = (start, end, clinic_id)

    def release(self, appointment_id: UUID) -> None:
        if appointment_id in self.reservations:
            self._released(appointment_id)

    @event(Released)
    def _released(self, appointment_id: UUID) -> None:
        del self.reservations[appointment_id]
