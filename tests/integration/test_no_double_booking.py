"""Racing bookings on real PostgreSQL: overlapping times never both succeed."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from domain.calendars import SlotTakenError
from domain.consent import POLICIES, Purpose
from domain.modality import Modality
from infra.eventstore.application import build_application
from infra.wiring.container import Container
from tests.builders import ALL_DAY, build_world, rules, slot_at
from tests.driver import ClinicDriver, drive


def _verified_patient(app: ClinicDriver, n: int) -> uuid.UUID:
    patient_id, _ = app.register_patient("Pat", f"Number{n}", datetime(1990, 1, 1).date(),
                                         f"p{n}@example.org", None)
    app.verify_patient_email(patient_id)
    app.grant_consent(patient_id, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    return patient_id


def test_concurrent_overlapping_bookings_one_wins(container: Container) -> None:
    clinics = drive(container)
    world = build_world(clinics)
    # Eight bookings: two groups of four overlapping times (different lengths), one provider.
    # Each is a time the provider's rules offer (a service of that length, on its grid):
    # the write side checks that before the calendar decides (decision 0037).
    # Dr. Two works at one clinic only (Dr. One's hours at two may not overlap).
    services = {30: world.checkup, **{minutes: clinics.register_service(
        f"Visit {minutes}", minutes, Modality.in_person) for minutes in (15, 20, 45, 60)}}
    doctor, clinic = world.second_provider, world.second_clinic
    clinics.revise_provider(doctor, "Dr. Two", [clinic], [*services.values()])
    clinics.publish_availability(doctor, clinic, rules(ALL_DAY, granularity_minutes=5))
    zone = ZoneInfo("America/Chicago")
    midnight = datetime.combine(datetime.now(zone).date() + timedelta(days=2), time(0), zone)
    wanted = [(midnight + timedelta(minutes=m), midnight + timedelta(minutes=m + d))
              for m, d in [(540, 30), (560, 20), (555, 15), (540, 60),
                           (660, 30), (675, 45), (660, 60), (680, 20)]]
    settings = container.settings
    assert settings.database_url
    patients = [_verified_patient(drive(container), n) for n in range(len(wanted))]
    apps = [drive(container, app=build_application(settings)) for _ in wanted]
    barrier = threading.Barrier(len(wanted))
    outcomes: dict[int, str] = {}

    def attempt(i: int) -> None:
        s, e = wanted[i]
        minutes = int((e - s).total_seconds() // 60)
        slot = slot_at(clinics, doctor, clinic, services[minutes], s)
        barrier.wait()
        try:
            apps[i].book(patients[i], slot, "", datetime.now(UTC))
            outcomes[i] = "booked"
        except SlotTakenError:
            outcomes[i] = "taken"

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(wanted))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for app in apps:
        app.close()

    booked = [wanted[i] for i, o in outcomes.items() if o == "booked"]
    assert len(outcomes) == len(wanted)
    assert 2 <= len(booked) <= len(wanted)
    ordered = sorted(booked)
    for (_, end), (nxt, _) in itertools.pairwise(ordered):
        assert end <= nxt, "two overlapping bookings both succeeded"
    with psycopg.connect(settings.database_url) as conn:
        stored = conn.execute(
            f'SELECT count(*) FROM "{settings.db_schema}".clinic_events '
            "WHERE topic LIKE %s", ("domain.appointments:Appointment.Booked",)).fetchone()
    assert stored == (len(booked),)
