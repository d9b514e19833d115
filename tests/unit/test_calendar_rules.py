"""No two booked appointments of one provider overlap: the calendar's rule, stated as a
hypothesis state machine over bookings, cancellations and moves."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.appointments import Appointment, AppointmentStatus, InvalidTransitionError
from domain.calendars import ProviderCalendar, SlotTakenError, calendar_days

BASE = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # near midnight UTC: visits span two days
PROVIDER = uuid.UUID(int=7)
CLINIC = uuid.UUID(int=8)
times = st.tuples(st.integers(0, 60), st.sampled_from([15, 30, 45, 60, 90])).map(
    lambda t: (BASE + timedelta(minutes=10 * t[0]),
               BASE + timedelta(minutes=10 * t[0] + t[1])))


class Bookings(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.calendars: dict[str, ProviderCalendar] = {}
        self.appointments: dict[uuid.UUID, Appointment] = {}

    def _calendars(self, start: datetime, end: datetime) -> list[ProviderCalendar]:
        result = []
        for day in calendar_days(start, end):
            key = day.isoformat()
            self.calendars.setdefault(key, ProviderCalendar(provider_id=PROVIDER, day=key))
            result.append(self.calendars[key])
        return result

    @rule(when=times)
    def book(self, when: tuple[datetime, datetime]) -> None:
        start, end = when
        appointment_id = uuid.UUID(int=len(self.appointments) + 1000 * len(self.calendars) + 1)
        while appointment_id in self.appointments:
            appointment_id = uuid.UUID(int=appointment_id.int + 1)
        calendars = self._calendars(start, end)
        clash = any(a.holds_time and a.start < end and start < a.end
                    for a in self.appointments.values())
        try:
            for calendar in calendars:
                calendar.reserve(appointment_id, start, end, CLINIC)
        except SlotTakenError:
            assert clash, "refused a free time"
            for calendar in calendars:  # an aborted save: nothing of it is kept
                calendar.release(appointment_id)
            return
        assert not clash, "accepted an overlapping time"
        self.appointments[appointment_id] = Appointment(
            patient_id=uuid.uuid4(), provider_id=PROVIDER, clinic_id=uuid.uuid4(),
            service_id=uuid.uuid4(), slot_id=uuid.uuid4(), start=start, end=end,
            modality="in_person", reason="", id=appointment_id)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.appointments:
            return
        chosen = data.draw(st.sampled_from(list(self.appointments)))
        appointment = self.appointments[chosen]
        try:
            appointment.cancel(BASE - timedelta(days=2), timedelta(hours=24), "")
        except InvalidTransitionError:
            assert appointment.status is not AppointmentStatus.booked
            return
        for calendar in self._calendars(appointment.start, appointment.end):
            calendar.release(appointment.id)

    @invariant()
    def reservations_never_overlap(self) -> None:
        spans = {}
        for calendar in self.calendars.values():
            spans.update({k: v[:2] for k, v in calendar.reservations.items()})
        ordered = sorted(spans.values())
        for (_, end), (start, _) in itertools.pairwise(ordered):
            assert end <= start

    @invariant()
    def calendars_hold_exactly_the_live_appointments(self) -> None:
        reserved = {k for c in self.calendars.values() for k in c.reservations}
        live = {a.id for a in self.appointments.values() if a.holds_time}
        assert reserved == live


TestBookings = Bookings.TestCase


def test_cancelling_late_is_recorded_as_late() -> None:
    appointment = Appointment(patient_id=uuid.uuid4(), provider_id=PROVIDER,
                              clinic_id=uuid.uuid4(), service_id=uuid.uuid4(),
                              slot_id=uuid.uuid4(), start=BASE, end=BASE + timedelta(hours=1),
                              modality="in_person", reason="")
    appointment.cancel(BASE - timedelta(hours=2), timedelta(hours=24), "")
    assert appointment.status is AppointmentStatus.cancelled and appointment.late_cancellation
    with pytest.raises(InvalidTransitionError):
        appointment.check_in()


def test_no_show_only_after_the_start() -> None:
    appointment = Appointment(patient_id=uuid.uuid4(), provider_id=PROVIDER,
                              clinic_id=uuid.uuid4(), service_id=uuid.uuid4(),
                              slot_id=uuid.uuid4(), start=BASE, end=BASE + timedelta(hours=1),
                              modality="in_person", reason="")
    with pytest.raises(InvalidTransitionError):
        appointment.mark_no_show(BASE - timedelta(minutes=1))
    appointment.mark_no_show(BASE + timedelta(minutes=20))
    assert appointment.status is AppointmentStatus.noshow
