"""One provider, one place at a time (issue "Hardening", item 5): in-person hours at two
clinics may not overlap, wherever the clinics' time zones put them; the demo data obeys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.clinics import Address
from domain.modality import Modality
from domain.schedules import OverlappingClinicHoursError
from infra.wiring.demo import seed_demo
from tests.builders import rules
from tests.driver import ClinicDriver
from tests.fakes import in_memory_use_cases

BOTH = [Modality.in_person, Modality.telehealth]


@pytest.fixture
def app() -> Iterator[ClinicDriver]:
    driver = ClinicDriver(in_memory_use_cases())
    yield driver
    driver.close()


def test_in_person_hours_at_two_clinics_may_not_overlap_across_time_zones(
        app: ClinicDriver) -> None:
    boston = app.register_clinic("Harbor", Address("1 Main", "Boston", "MA", "02110"),
                                 "America/New_York", BOTH)
    san_diego = app.register_clinic("Pacific", Address("2 B St", "San Diego", "CA", "92101"),
                                    "America/Los_Angeles", BOTH)
    visit = app.register_service("Consultation", 30, Modality.in_person)
    doctor = app.register_provider("Dr. Okafor", [boston, san_diego], [visit])
    app.publish_availability(doctor, boston, rules({"monday": [["09:00", "17:00"]]}))
    # 09:00-17:00 in San Diego is 12:00-20:00 in Boston: they meet on Monday afternoon.
    with pytest.raises(OverlappingClinicHoursError) as refused:
        app.publish_availability(doctor, san_diego, rules({"monday": [["09:00", "17:00"]]}))
    assert "Harbor" in str(refused.value) and "09:00-17:00 there" in str(refused.value)
    # 06:00-08:30 in San Diego ends 11:30 in Boston, but starts at 09:00 there: refused too.
    with pytest.raises(OverlappingClinicHoursError):
        app.publish_availability(doctor, san_diego, rules({"monday": [["06:00", "08:30"]]}))
    app.publish_availability(doctor, san_diego, rules({"monday": [["14:00", "18:00"]],
                                                       "tuesday": [["09:00", "17:00"]]}))
    with pytest.raises(OverlappingClinicHoursError):  # the other way round as well
        app.publish_availability(doctor, boston, rules({"monday": [["09:00", "18:00"]]}))


def test_video_only_clinics_and_providers_are_not_in_two_places(app: ClinicDriver) -> None:
    boston = app.register_clinic("Harbor", Address("1 Main", "Boston", "MA", "02110"),
                                 "America/New_York", BOTH)
    virtual = app.register_clinic("Virtual", Address("9 Larimer", "Denver", "CO", "80202"),
                                  "America/Denver", [Modality.telehealth])
    chicago = app.register_clinic("Lakeside", Address("3 Lake", "Chicago", "IL", "60601"),
                                  "America/Chicago", BOTH)
    consult = app.register_service("Consultation", 30, Modality.in_person)
    video = app.register_service("Video", 20, Modality.telehealth)
    weekdays = rules()
    hybrid = app.register_provider("Dr. Herrera", [boston, virtual], [consult, video])
    app.publish_availability(hybrid, boston, weekdays)
    app.publish_availability(hybrid, virtual, weekdays)  # a video-only clinic
    remote = app.register_provider("Dr. Weiss", [boston, chicago], [video])
    app.publish_availability(remote, boston, weekdays)
    app.publish_availability(remote, chicago, weekdays)  # sees no one in person


def test_the_demo_clinics_put_no_provider_in_two_places_at_once(app: ClinicDriver) -> None:
    assert seed_demo(app.use_cases.directory) > 0  # refused before: Dr. Okafor, Dr. Tanaka
