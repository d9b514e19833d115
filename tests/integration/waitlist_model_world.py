"""The world the waitlist model test (tests/integration/test_waitlist_model_real.py) runs in:
two clinics, an in-person and a video service, three providers with hours every hour of every
day, each example's own twelve-hour block of that time, and what an entry may ask for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from hypothesis import strategies as st

from domain.clinics import Address
from domain.modality import Modality
from infra.wiring.container import Container
from tests.builders import ALL_DAY, rules
from tests.driver import ClinicDriver, drive
from tests.e2e.waitlist_flow import Matching

PATIENTS = 4  # the last has no telehealth consent: a video entry of theirs is refused
BLOCK = timedelta(hours=12)
HORIZON_DAYS = 60  # room for 115 blocks: examples, and the replay of a failing one
# What each hour of a block is: (doctor, clinic, service). Hours 0-7 can be freed by a
# cancellation; hours 8-11 are the visits "earlier than my booking" entries would move.
KINDS = [(0, 0, "checkup"), (1, 1, "checkup"), (2, 0, "checkup"), (0, 0, "video")]
FREEABLE = 8


@dataclass
class World:
    container: Container
    project: Callable[[], int]
    offers: Matching
    driver: ClinicDriver
    clinics: tuple[UUID, UUID]  # Harbor: in person and video; Lakeside: in person only
    services: dict[str, UUID]
    doctors: tuple[UUID, UUID, UUID]  # One: Harbor, both services; Two: Lakeside; Three:
    # Harbor, in person (a provider is in one place at a time: no in-person hours at two)
    first: datetime
    blocks: int = 0

    def next_block(self) -> datetime:
        self.blocks += 1
        start = self.first + BLOCK * (self.blocks - 1)
        assert start + BLOCK < self.first + timedelta(days=HORIZON_DAYS - 1), \
            "more examples than blocks of published hours: raise HORIZON_DAYS"
        return start


def build_world(container: Container, project: Callable[[], int], offers: Matching) -> World:
    driver = drive(container)
    # Zones without daylight saving: every UTC hour is a slot, whatever the date.
    harbor = driver.register_clinic("Harbor", Address("1 Pier Rd", "San Juan", "PR", "00901"),
                                    "America/Puerto_Rico",
                                    [Modality.in_person, Modality.telehealth])
    lakeside = driver.register_clinic("Lakeside", Address("2 Lake St", "Phoenix", "AZ",
                                                          "85001"),
                                      "America/Phoenix", [Modality.in_person])
    checkup = driver.register_service("Checkup", 30, Modality.in_person)
    video = driver.register_service("Video visit", 30, Modality.telehealth)
    one = driver.register_provider("Dr. One", [harbor], [checkup, video])
    two = driver.register_provider("Dr. Two", [lakeside], [checkup])
    three = driver.register_provider("Dr. Three", [harbor], [checkup])
    hourly = rules(ALL_DAY, granularity_minutes=60, horizon_days=HORIZON_DAYS)
    for doctor, clinic in ((one, harbor), (two, lakeside), (three, harbor)):
        driver.publish_availability(doctor, clinic, hourly)
    project()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return World(container, project, offers, driver, (harbor, lakeside),
                 {"checkup": checkup, "video": video}, (one, two, three),
                 hour + timedelta(hours=26))


class Join(NamedTuple):
    patient: int
    service: str
    clinics: tuple[int, ...]  # indexes into World.clinics
    doctor: int | None
    after: int | None  # not before this hour of the block (None: now)
    until: int  # ends by this hour of the block
    priority: int  # the urgency staff set as soon as the patient joined


class Earlier(NamedTuple):
    patient: int
    kind: int  # which kind of time the kept visit is (KINDS)
    after: int | None


JOIN = st.builds(Join, st.integers(0, PATIENTS - 1), st.sampled_from(["checkup", "video"]),
                 st.sampled_from([(), (0,), (1,), (0, 1), ()]),
                 st.sampled_from([None, 0, 1, 2, None]),
                 st.sampled_from([None, 0, 2, 5]), st.sampled_from([4, 8, 12]),
                 st.sampled_from([0, 0, 2, 5]))
EARLIER = st.builds(Earlier, st.integers(0, PATIENTS - 2), st.integers(0, len(KINDS) - 1),
                    st.sampled_from([None, 0, None, 3]))
