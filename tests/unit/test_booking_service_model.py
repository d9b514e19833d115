"""The booking application service against a reference model (hypothesis state machine):
random interleavings of book, cancel, reschedule and rule changes never leave two booked
appointments of one provider overlapping, every confirmed booking stays in the event
store, and replaying the log rebuilds the same state. In-memory event store (eventsourcing's
POPO recorder): this tests the service's logic; tests/integration test PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from commands.ports import SlotInfo
from domain.appointments import Appointment
from domain.availability import AvailabilityRules
from domain.calendars import SlotTakenError
from domain.clinics import Address
from domain.consent import POLICIES, Purpose
from domain.errors import ConflictError, RuleViolationError
from domain.modality import Modality
from domain.schedules import RulesConflictWithBookingsError
from domain.slots import SlotUnavailableError
from tests.driver import ClinicDriver
from tests.fakes import in_memory_use_cases

ZONE = ZoneInfo("America/Chicago")
DAY = datetime.now(UTC).astimezone(ZONE).date() + timedelta(days=2)
ALL_DAY = {d: [["00:00", "24:00"]] for d in
           ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]}
MORNING = {d: [["00:00", "12:00"]] for d in ALL_DAY}
# Slot starts each service's rules really offer (a visit of n minutes every n minutes from
# midnight): the write side checks a slot against the rules (decision 0037).
STARTS = {30: [(9, 0), (9, 30), (10, 0), (11, 30), (12, 0), (13, 0)],
          60: [(9, 0), (10, 0), (12, 0), (13, 0)],
          90: [(9, 0), (10, 30), (12, 0), (13, 30)]}
SLOTS = sum(len(starts) for starts in STARTS.values())


def _local(hour: int, minute: int) -> datetime:
    return datetime.combine(DAY, time(hour, minute), ZONE).astimezone(UTC)


class BookingService(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = ClinicDriver(in_memory_use_cases())
        app = self.app
        self.clinic = app.register_clinic("C", Address("1 A St", "Town", "IL", "60601"),
                                          "America/Chicago", [Modality.in_person])
        services = {minutes: app.register_service(f"Visit {minutes}", minutes,
                                                  Modality.in_person) for minutes in STARTS}
        self.provider = app.register_provider("Dr", [self.clinic], list(services.values()))
        app.publish_availability(self.provider, self.clinic,
                                 AvailabilityRules.from_dict({"weekly": ALL_DAY}))
        self.patient, _ = app.register_patient("P", "Q", date(1990, 1, 1), "p@example.org",
                                               None)
        app.verify_patient_email(self.patient)
        app.grant_consent(self.patient, Purpose.treatment,
                          POLICIES[Purpose.treatment].version, "web")
        self.slots = [SlotInfo(uuid.uuid4(), self.provider, self.clinic, services[d],
                               "in_person", _local(h, m), _local(h, m) + timedelta(minutes=d),
                               _local(h, m) - timedelta(hours=1))
                      for d, starts in STARTS.items() for h, m in starts]
        self.model: dict[uuid.UUID, tuple[datetime, datetime, str]] = {}
        self.hours = ALL_DAY

    def _live(self) -> list[tuple[uuid.UUID, datetime, datetime]]:
        return [(k, s, e) for k, (s, e, st_) in self.model.items() if st_ == "booked"]

    def _free(self, start: datetime, end: datetime, ignore: uuid.UUID | None = None) -> bool:
        return all(not (s < end and start < e) for k, s, e in self._live() if k != ignore)

    def _offered(self, slot: SlotInfo) -> bool:
        return self.hours is ALL_DAY or slot.end <= _local(12, 0)

    @rule(index=st.integers(0, SLOTS - 1))
    def book(self, index: int) -> None:
        slot = self.slots[index]
        free = self._free(slot.start, slot.end)
        try:
            appointment_id = self.app.book(self.patient, slot, "", datetime.now(UTC)).id
        except SlotUnavailableError:
            assert not self._offered(slot), "refused a time the hours offer"
            return
        except SlotTakenError:
            assert not free, "refused a free time"
            return
        assert self._offered(slot), "booked a time outside the hours"
        assert free, "booked over another appointment"
        self.model[appointment_id] = (slot.start, slot.end, "booked")

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.model:
            return
        appointment_id = data.draw(st.sampled_from(list(self.model)))
        start, end, status = self.model[appointment_id]
        try:
            self.app.cancel(appointment_id, datetime.now(UTC))
        except RuleViolationError:
            assert status != "booked"
            return
        assert status == "booked"
        self.model[appointment_id] = (start, end, "cancelled")

    @rule(data=st.data())
    def reschedule(self, data: st.DataObject) -> None:
        live = self._live()
        if not live:
            return
        appointment_id, start, end = data.draw(st.sampled_from(live))
        # To a time of the same service (same length), as a reschedule must be.
        slot = data.draw(st.sampled_from([s for s in self.slots
                                          if s.end - s.start == end - start]))
        free = self._free(slot.start, slot.end, ignore=appointment_id)
        try:
            self.app.reschedule(appointment_id, slot, datetime.now(UTC))
        except SlotUnavailableError:
            assert not self._offered(slot), "refused a time the hours offer"
            return
        except (SlotTakenError, ConflictError):
            assert not free
            return
        assert free and self._offered(slot)
        self.model[appointment_id] = (slot.start, slot.end, "booked")

    @rule(morning_only=st.booleans())
    def change_hours(self, morning_only: bool) -> None:
        hours = MORNING if morning_only else ALL_DAY
        noon = _local(12, 0)
        stranded = morning_only and any(e > noon for _, _, e in self._live())
        try:
            self.app.publish_availability(self.provider, self.clinic,
                                          AvailabilityRules.from_dict({"weekly": hours}))
        except RulesConflictWithBookingsError:
            assert stranded, "refused a change that strands nothing"
            return
        assert not stranded, "applied hours over booked visits"
        self.hours = hours

    @invariant()
    def no_overlap_and_every_booking_stored(self) -> None:
        live = sorted((s, e) for _, s, e in self._live())
        for (_, end), (start, _) in itertools.pairwise(live):
            assert end <= start
        for appointment_id, (start, end, status) in self.model.items():
            stored = self.app.appointment(appointment_id)
            assert (stored.start, stored.end, stored.status.value) == (start, end, status)

    @invariant()
    def replaying_the_log_rebuilds_the_same_state(self) -> None:
        rebuilt: dict[uuid.UUID, Any] = {}
        notes = self.app.recorder.select_notifications(start=1, limit=100_000)
        for note in notes:
            event = self.app.mapper.to_domain_event(note)
            rebuilt[event.originator_id] = event.mutate(rebuilt.get(event.originator_id))
        for appointment_id, (start, end, status) in self.model.items():
            appointment: Appointment = rebuilt[appointment_id]
            assert (appointment.start, appointment.end, appointment.status.value) == (
                start, end, status)

    def teardown(self) -> None:
        self.app.close()


BookingService.TestCase.settings = settings(max_examples=40, stateful_step_count=25,
                                            deadline=None)
TestBookingService = BookingService.TestCase
