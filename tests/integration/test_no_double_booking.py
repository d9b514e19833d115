"""Racing bookings on real PostgreSQL: overlapping times never both succeed."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from commands.ports import SlotInfo
from domain.calendars import SlotTakenError
from domain.consent import POLICIES, Purpose
from infra.eventstore.application import build_application
from infra.wiring.container import Container
from tests.builders import build_world
from tests.driver import ClinicDriver, drive


def _verified_patient(app: ClinicDriver, n: int) -> uuid.UUID:
    patient_id, _ = app.register_patient("Pat", f"Number{n}", datetime(1990, 1, 1).date(),
                                         f"p{n}@example.org", None)
    app.verify_patient_email(patient_id)
    app.grant_consent(patient_id, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    return patient_id


def test_concurrent_overlapping_bookings_one_wins(container: Container) -> None:
    world = build_world(drive(container))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    # Eight bookings: two groups of four overlapping times (different lengths), one provider.
    wanted = [(start + timedelta(minutes=m), start + timedelta(minutes=m + d))
              for m, d in [(0, 30), (10, 60), (20, 15), (29, 30),
                           (120, 30), (100, 45), (140, 20), (149, 60)]]
    settings = container.settings
    assert settings.database_url
    patients = [_verified_patient(drive(container), n) for n in range(len(wanted))]
    apps = [drive(container, app=build_application(settings)) for _ in wanted]
    barrier = threading.Barrier(len(wanted))
    outcomes: dict[int, str] = {}

    def attempt(i: int) -> None:
        s, e = wanted[i]
        slot = SlotInfo(uuid.uuid4(), world.provider, world.clinic, world.checkup, "in_person",
                        s, e, s)
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
