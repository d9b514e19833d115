"""The slot-search read model on real PostgreSQL: exactly-once, restartable, rebuildable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from infra.postgres.read_models import slot_search_read_model
from infra.postgres.slot_search import SlotSearchReadModel
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.builders import build_world, rules
from tests.driver import drive

FROZEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TABLES = ["directory_clinics", "directory_services", "directory_providers",
          "availability_schedules", "open_slots", "booked_intervals"]


@pytest.fixture
def read_model(container: Container) -> Iterator[SlotSearchReadModel]:
    settings = container.settings
    assert settings.database_url
    model = slot_search_read_model(settings.database_url, settings.db_schema, lambda: FROZEN)
    yield model
    model.datastore.close()


def dump(container: Container) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(str(container.settings.database_url)) as conn:
        schema = container.settings.db_schema
        return {t: conn.execute(f'SELECT * FROM "{schema}".{t} ORDER BY 1').fetchall()
                for t in TABLES}


def test_catch_up_builds_directory_and_slots(container: Container,
                                             read_model: SlotSearchReadModel) -> None:
    world = build_world(drive(container))
    applied = CatchUpRunner(container.app, read_model).catch_up()
    assert applied == 9
    rows = dump(container)
    assert len(rows["directory_clinics"]) == 2 and len(rows["directory_providers"]) == 2
    with psycopg.connect(str(container.settings.database_url)) as conn:
        per_service = dict(conn.execute(
            f'SELECT service_id, count(*) FROM "{container.settings.db_schema}".open_slots '
            "WHERE schedule_id IN (SELECT schedule_id FROM "
            f'"{container.settings.db_schema}".availability_schedules WHERE clinic_id = %s '
            "AND provider_id = %s) GROUP BY 1", (world.clinic, world.provider)).fetchall())
    # 14 days from Tue 2026-12-01: 10 weekdays x 7 hours; 30-min checkups, 20-min video
    # visits on a 15-minute grid (30-minute steps).
    assert per_service == {world.checkup: 10 * 14, world.video: 10 * 14}


def test_a_restart_mid_stream_loses_and_duplicates_nothing(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    build_world(drive(container))
    small = CatchUpRunner(container.app, read_model, batch_size=2)
    assert small.run_once() == 2
    assert read_model.position("clinic") == 2
    # "Crash" here: a new runner with a new connection pool resumes from the position.
    settings = container.settings
    assert settings.database_url
    again = slot_search_read_model(settings.database_url, settings.db_schema, lambda: FROZEN)
    try:
        resumed = CatchUpRunner(container.app, again, batch_size=3)
        assert resumed.catch_up() == 7
        assert resumed.catch_up() == 0
    finally:
        again.datastore.close()
    incremental = dump(container)
    read_model.reset()
    CatchUpRunner(container.app, read_model).catch_up()
    assert dump(container) == incremental


def test_replaying_a_batch_already_applied_changes_nothing(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    from eventsourcing.persistence import IntegrityError, Tracking

    build_world(drive(container))
    CatchUpRunner(container.app, read_model).catch_up()
    before = dump(container)
    notes = container.app.recorder.select_notifications(start=1, limit=3)
    events = [container.app.mapper.to_domain_event(n) for n in notes]
    with pytest.raises(IntegrityError):
        read_model.process(events, Tracking("clinic", notes[-1].id))
    assert dump(container) == before


def test_rebuild_equals_incremental_after_rule_and_directory_changes(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    app = drive(container)
    world = build_world(app)
    runner = CatchUpRunner(app, read_model, batch_size=1)
    runner.catch_up()
    app.publish_availability(world.provider, world.clinic,
                             rules({"monday": [["08:00", "10:00"]]}, horizon_days=14))
    app.revise_service(world.checkup, "Checkup", 45, app.service(world.checkup).modality_enum)
    app.revise_provider(world.second_provider, "Dr. Two", [world.second_clinic], [world.checkup])
    runner.catch_up()
    incremental = dump(container)
    read_model.reset()
    assert dump(container)["open_slots"] == []
    CatchUpRunner(app, read_model, batch_size=500).catch_up()
    assert dump(container) == incremental
    assert incremental["open_slots"], "slots were generated"


def test_a_provider_who_leaves_a_clinic_has_no_slots_there(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    app = drive(container)
    world = build_world(app)
    app.revise_provider(world.provider, "Dr. One", [world.clinic], [world.checkup, world.video])
    CatchUpRunner(app, read_model).catch_up()
    with psycopg.connect(str(container.settings.database_url)) as conn:
        left = conn.execute(
            f'SELECT count(*) FROM "{container.settings.db_schema}".open_slots '
            "WHERE provider_id = %s AND clinic_id = %s", (world.provider, world.second_clinic)
        ).fetchone()
    assert left == (0,)


def test_the_horizon_rolls_forward_with_the_clock(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    build_world(drive(container))
    CatchUpRunner(container.app, read_model).catch_up()
    first = {r[0] for r in dump(container)["availability_schedules"]}
    schema = container.settings.db_schema

    def last_day() -> object:
        with psycopg.connect(str(container.settings.database_url)) as conn:
            row = conn.execute(f'SELECT max(local_start)::date FROM "{schema}".open_slots')
            return row.fetchone()

    before = last_day()
    read_model.tick()  # same day: nothing to do
    assert last_day() == before
    read_model.clock = lambda: datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    read_model.tick()
    after = last_day()
    assert after is not None and before is not None and after > before
    assert {r[0] for r in dump(container)["availability_schedules"]} == first


def test_bookings_take_time_from_search_and_rebuild_agrees(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    from commands.ports import SlotInfo
    from domain.consent import POLICIES, Purpose

    app = drive(container)
    world = build_world(app)
    runner = CatchUpRunner(app, read_model)
    runner.catch_up()
    schema = container.settings.db_schema

    def open_count(where: str, params: tuple[object, ...]) -> int:
        with psycopg.connect(str(container.settings.database_url)) as conn:
            row = conn.execute(f'SELECT count(*) FROM "{schema}".open_slots WHERE '
                               f"status = 'open' AND {where}", params).fetchone()
        return int(row[0]) if row else -1

    patient, _ = app.register_patient("Pat", "Doe", datetime(1990, 1, 1).date(),
                                      "pat@example.org", None)
    app.verify_patient_email(patient)
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    with psycopg.connect(str(container.settings.database_url)) as conn:
        slot_row = conn.execute(
            f'SELECT slot_id, start_at, end_at FROM "{schema}".open_slots WHERE provider_id = %s '
            "AND service_id = %s ORDER BY start_at LIMIT 1 OFFSET 3",
            (world.provider, world.checkup)).fetchone()
    assert slot_row is not None
    slot = SlotInfo(slot_row[0], world.provider, world.clinic, world.checkup, "in_person",
                    slot_row[1], slot_row[2], slot_row[1])
    overlapping = "provider_id = %s AND start_at < %s AND end_at > %s"
    args = (world.provider, slot.end, slot.start)
    before = open_count(overlapping, args)
    assert before >= 2  # the checkup slot and the overlapping video visit

    appointment = app.book(patient, slot, "", FROZEN).id
    runner.catch_up()
    assert open_count(overlapping, args) == 0
    app.cancel(appointment, FROZEN)
    runner.catch_up()
    assert open_count(overlapping, args) == before
    second = app.book(patient, slot, "", FROZEN)
    runner.catch_up()
    incremental = dump(container)
    read_model.reset()
    CatchUpRunner(app, read_model).catch_up()
    assert dump(container) == incremental
    assert open_count(overlapping, args) == 0 and second


def test_a_booked_visit_hides_what_its_buffer_keeps_free_and_rebuild_agrees(
    container: Container, read_model: SlotSearchReadModel
) -> None:
    """Issue "Hardening", item 4: search no longer offers a visit of another service that
    starts inside a booked visit's buffer (the calendar would refuse it)."""
    from domain.consent import POLICIES, Purpose
    from tests.builders import slot_at

    app = drive(container)
    world = build_world(app)
    app.publish_availability(world.provider, world.clinic, rules(buffer_after_minutes=10))
    runner = CatchUpRunner(app, read_model)
    runner.catch_up()
    schema = container.settings.db_schema
    patient, _ = app.register_patient("Pat", "Doe", datetime(1990, 1, 1).date(),
                                      "pat@example.org", None)
    app.verify_patient_email(patient)
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")

    def status_of(service: object, start: object) -> str:
        with psycopg.connect(str(container.settings.database_url)) as conn:
            row = conn.execute(
                f'SELECT status FROM "{schema}".open_slots WHERE provider_id = %s AND '
                "service_id = %s AND start_at = %s", (world.provider, service, start)).fetchone()
        assert row is not None
        return str(row[0])

    with psycopg.connect(str(container.settings.database_url)) as conn:
        first = conn.execute(
            f'SELECT start_at FROM "{schema}".open_slots WHERE provider_id = %s AND '
            "service_id = %s AND clinic_id = %s ORDER BY start_at LIMIT 1",
            (world.provider, world.checkup, world.clinic)).fetchone()
    assert first is not None
    checkup = slot_at(app, world.provider, world.clinic, world.checkup, first[0])
    right_after, later = checkup.end, checkup.end + timedelta(minutes=30)  # 20-min video visits
    assert status_of(world.video, right_after) == status_of(world.video, later) == "open"

    appointment = app.book(patient, checkup, "", FROZEN).id
    runner.catch_up()
    assert status_of(world.video, right_after) == "booked"  # inside the 10-minute buffer
    assert status_of(world.video, later) == "open"
    incremental = dump(container)
    read_model.reset()
    CatchUpRunner(app, read_model).catch_up()
    assert dump(container) == incremental

    app.cancel(appointment, FROZEN)
    runner.catch_up()
    assert status_of(world.video, right_after) == "open"
