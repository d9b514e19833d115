"""A scripted month for the analytics tests (2027-03-08 to 2027-04-07): three clinics whose
clocks change on three different days — Boston springs forward on 14 March, London on 28
March, Sydney falls back on 4 April — with visits near local midnight (their UTC date is not
their local date), bookings, moves, cancellations (one late), re-bookings, no-shows,
check-ins and completed visits; every step at a time set on a test clock, so the events'
own timestamps (booked, cancelled, no-show...) are the script's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from commands.ports import SlotInfo
from domain.clinics import Address
from domain.modality import Modality
from tests.builders import ALL_DAY, rules, slot_at
from tests.driver import ClinicDriver
from tests.integration.analytics_script import STAFF


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Clock:
    """The time every event is recorded at (the test puts it in place of the event
    store's own clock)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Month:
    clinics: dict[str, UUID]  # boston, london, sydney
    providers: dict[str, UUID]  # one per clinic, under the clinic's name
    checkup: UUID  # 30 minutes
    consult: UUID  # 60 minutes
    visits: dict[str, UUID] = field(default_factory=dict)


def play_month(app: ClinicDriver, clock: Clock) -> Month:
    """All steps in time order; `at` moves the clock (and is the use case's `now`)."""

    def at(*when: int) -> datetime:
        clock.now = utc(*when)
        return clock.now

    at(2027, 3, 8, 12)
    address = Address("1 Main St", "Boston", "MA", "02110")
    clinics = {name: app.register_clinic(name.title(), address, zone, [Modality.in_person])
               for name, zone in (("boston", "America/New_York"), ("london", "Europe/London"),
                                  ("sydney", "Australia/Sydney"))}
    checkup = app.register_service("Checkup", 30, Modality.in_person)
    consult = app.register_service("Consult", 60, Modality.in_person)
    providers = {name: app.register_provider(f"Dr. {name.title()}", [clinic],
                                             [checkup, consult])
                 for name, clinic in clinics.items()}
    for name, clinic in clinics.items():
        app.publish_availability(providers[name], clinic, rules(ALL_DAY, horizon_days=60))
    m = Month(clinics, providers, checkup, consult)
    book = _booker(app, m, clock)

    m.visits["b1"] = book("boston", checkup, utc(2027, 3, 14, 4, 30))  # 23:30 EST, 13th
    m.visits["b2"] = book("boston", checkup, utc(2027, 3, 15, 3, 30))  # 23:30 EDT, 14th
    m.visits["b3"] = book("boston", checkup, utc(2027, 3, 20, 13))  # 09:00 EDT
    m.visits["b5"] = book("boston", consult, utc(2027, 3, 12, 15))  # 10:00 EST
    now = at(2027, 3, 9, 12)
    app.reschedule(m.visits["b5"], _slot(app, m, "boston", consult, utc(2027, 3, 16, 14)), now)
    app.cancel(m.visits["b3"], at(2027, 3, 10, 12))  # 10 days ahead
    at(2027, 3, 11, 12)
    m.visits["b4"] = book("boston", checkup, utc(2027, 3, 20, 13))  # b3's time again
    app.mark_no_show(m.visits["b1"], at(2027, 3, 14, 5))
    at(2027, 3, 15, 3, 30)
    app.use_cases.visits.check_in(m.visits["b2"], STAFF)
    at(2027, 3, 15, 4)
    app.use_cases.visits.complete(m.visits["b2"], STAFF)

    at(2027, 3, 15, 9)
    m.visits["l3"] = book("london", checkup, utc(2027, 3, 27, 9))  # 09:00 GMT
    for moved_at, start in ((utc(2027, 3, 16, 9), utc(2027, 3, 30, 8)),  # 09:00 BST
                            (utc(2027, 3, 17, 9), utc(2027, 4, 1, 8))):  # 09:00 BST
        now = at(moved_at.year, moved_at.month, moved_at.day, moved_at.hour)
        app.reschedule(m.visits["l3"], _slot(app, m, "london", checkup, start), now)
    at(2027, 3, 20, 9)
    m.visits["l1"] = book("london", checkup, utc(2027, 3, 28, 23, 30))  # 00:30 BST, 29th
    at(2027, 3, 25)
    m.visits["s3"] = book("sydney", checkup, utc(2027, 4, 1, 21))  # 08:00 AEDT, 2nd
    app.cancel(m.visits["l1"], at(2027, 3, 28, 12))  # 11.5 h before: late
    at(2027, 3, 28, 13)
    m.visits["l2"] = book("london", checkup, utc(2027, 3, 28, 23, 30))  # l1's time again
    at(2027, 3, 28, 23, 30)
    app.use_cases.visits.check_in(m.visits["l2"], STAFF)
    at(2027, 3, 29)
    app.use_cases.visits.complete(m.visits["l2"], STAFF)

    app.cancel(m.visits["s3"], at(2027, 3, 31))  # 45 h before
    at(2027, 4, 1)
    m.visits["s2"] = book("sydney", checkup, utc(2027, 4, 4, 23))  # 09:00 AEST, 5th
    m.visits["s1"] = book("sydney", checkup, utc(2027, 4, 3, 16, 30))  # 02:30 AEST, 4th
    m.visits["s5"] = book("sydney", checkup, utc(2027, 4, 3, 15, 30))  # 02:30 AEDT, 4th
    app.mark_no_show(m.visits["l3"], at(2027, 4, 1, 9))
    at(2027, 4, 2)
    m.visits["s4"] = book("sydney", consult, utc(2027, 4, 6, 13))  # 23:00 AEST, 6th
    at(2027, 4, 3, 16, 35)
    app.use_cases.visits.check_in(m.visits["s1"], STAFF)
    at(2027, 4, 4, 23)
    app.use_cases.visits.check_in(m.visits["s2"], STAFF)
    at(2027, 4, 4, 23, 30)
    app.use_cases.visits.complete(m.visits["s2"], STAFF)
    app.mark_no_show(m.visits["s4"], at(2027, 4, 6, 14))
    return m


def _slot(app: ClinicDriver, m: Month, clinic: str, service: UUID,
          start: datetime) -> SlotInfo:
    return slot_at(app, m.providers[clinic], m.clinics[clinic], service, start)


def _booker(app: ClinicDriver, m: Month,
            clock: Clock) -> Callable[[str, UUID, datetime], UUID]:
    """Books, at the clock's time, for a new patient each time (so that no patient's own
    rules, such as repeated no-shows, get in the way)."""
    count = iter(range(100))

    def book(clinic: str, service: UUID, start: datetime) -> UUID:
        n = next(count)
        patient = app.ready_patient(f"Pat{n}", "Month", f"pat{n}.month@example.org")
        slot = _slot(app, m, clinic, service, start)
        return UUID(str(app.book(patient, slot, "visit", clock.now).id))

    return book
