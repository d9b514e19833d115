"""The analytics read model on real PostgreSQL: a scripted fortnight across two time zones and
the 2027 spring DST change gives hand-computed figures by clinic-local date; a rebuild from
zero, and a restart mid-stream, give the same tables; erasure removes the patient's key; the
schema holds no PHI and no patient id."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.local_time import local_day
from domain.patients import ErasureBasis
from infra.embedded.postgres import EmbeddedPostgres
from infra.postgres.analytics import AnalyticsReadModel, analytics_schema
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.builders import first_slot
from tests.driver import drive
from tests.integration.analytics_script import MARKER, analytics_model, dump, play, rows


@pytest.fixture
def model(container: Container) -> Iterator[AnalyticsReadModel]:
    built = analytics_model(container)
    yield built
    built.datastore.close()


def test_a_scripted_fortnight_gives_the_hand_computed_figures(
        container: Container, model: AnalyticsReadModel) -> None:
    s = play(drive(container))
    CatchUpRunner(container.app, model).catch_up()
    v = s.visits

    facts = {r[0]: r[1:] for r in rows(container, """
        SELECT appointment_id, local_date, local_start::time::text, status, reschedule_count,
               late_cancellation, booking_channel, duration_minutes
        FROM "{a}".v1_appointment_facts""")}
    assert facts == {
        v["a1"]: (date(2027, 3, 13), "23:30:00", "noshow", 0, False, "system", 30),
        v["a2"]: (date(2027, 3, 14), "03:00:00", "fulfilled", 0, False, "system", 30),
        v["a3"]: (date(2027, 3, 14), "22:00:00", "cancelled", 0, True, "system", 30),
        v["a4"]: (date(2027, 3, 14), "22:00:00", "booked", 0, False, "system", 30),
        v["a5"]: (date(2027, 3, 16), "10:00:00", "booked", 1, False, "system", 30),
        v["a6"]: (date(2027, 3, 12), "10:00:00", "booked", 0, False, "system", 30),
        v["a7"]: (date(2027, 3, 20), "09:00:00", "cancelled", 0, False, "system", 30),
    }
    stamps = rows(container, """
        SELECT count(*) FILTER (WHERE lead_time_minutes
                                = floor(extract(epoch FROM start_at - booked_at) / 60)),
               count(no_show_at), count(checked_in_at), count(completed_at),
               count(cancelled_at), count(rescheduled_at), count(DISTINCT patient_key)
        FROM "{a}".v1_appointment_facts""")
    assert stamps == [(7, 1, 1, 1, 2, 1, 4)]

    utilization = rows(container, """
        SELECT provider_id, local_date, appointments, booked_minutes, attended_minutes,
               cancellations, late_cancellations, no_shows
        FROM "{a}".v1_daily_utilization ORDER BY provider_id, local_date""")
    assert sorted(utilization) == sorted([
        (s.one, date(2027, 3, 13), 1, 30, 0, 0, 0, 1),
        (s.one, date(2027, 3, 14), 1, 30, 30, 0, 0, 0),
        (s.one, date(2027, 3, 20), 0, 0, 0, 1, 0, 0),
        (s.two, date(2027, 3, 12), 1, 30, 0, 0, 0, 0),
        (s.two, date(2027, 3, 14), 1, 30, 0, 1, 1, 0),
        (s.two, date(2027, 3, 16), 1, 30, 0, 0, 0, 0),
    ])

    supply = rows(container, """
        SELECT clinic_id, local_date, hour, booked, freed_by_cancellation,
               freed_by_reschedule, rebooked FROM "{a}".v1_slot_supply""")
    assert sorted(supply) == sorted([
        (s.boston, date(2027, 3, 13), 23, 1, 0, 0, 0),
        (s.boston, date(2027, 3, 14), 3, 1, 0, 0, 0),
        (s.boston, date(2027, 3, 20), 9, 1, 1, 0, 0),
        (s.chicago, date(2027, 3, 12), 10, 2, 0, 1, 1),
        (s.chicago, date(2027, 3, 14), 22, 2, 1, 0, 1),
        (s.chicago, date(2027, 3, 16), 10, 1, 0, 0, 0),
    ])


def test_rebuild_from_zero_and_a_restart_mid_stream_give_the_same_tables(
        container: Container, model: AnalyticsReadModel) -> None:
    play(drive(container))
    small = CatchUpRunner(container.app, model, batch_size=3)
    for _ in range(12):  # batches of three: boundaries fall inside every sequence
        assert small.run_once() == 3
    # "Crash" here: a new runner with its own connection pool resumes from the position.
    restarted = analytics_model(container)
    try:
        assert CatchUpRunner(container.app, restarted, batch_size=5).catch_up() > 0
        incremental = dump(container)
        assert len(incremental["appointment_facts"]) == 7
        restarted.reset()
        assert dump(container)["appointment_facts"] == []
        CatchUpRunner(container.app, restarted).catch_up()
        assert dump(container) == incremental
    finally:
        restarted.datastore.close()


def test_erasure_removes_the_patients_key(container: Container,
                                          model: AnalyticsReadModel) -> None:
    app = drive(container)
    s = play(app)
    runner = CatchUpRunner(container.app, model)
    runner.catch_up()
    key_of_ana = rows(container, 'SELECT patient_key FROM "{a}".appointment_facts '
                      "WHERE appointment_id = %s", s.visits["a1"])[0][0]
    assert key_of_ana and len(key_of_ana) == 32
    app.record_erasure(s.patients["ana"], ErasureBasis.request)
    app.shred_personal_data(s.patients["ana"])
    runner.catch_up()
    assert rows(container, 'SELECT count(*) FROM "{a}".appointment_facts '
                "WHERE patient_key = %s", key_of_ana) == [(0,)]
    assert rows(container, 'SELECT patient_key FROM "{a}".appointment_facts '
                "WHERE appointment_id = %s", s.visits["a1"]) == [(None,)]
    schema = container.settings.db_schema
    assert rows(container, f'SELECT count(*) FROM "{schema}".analytics_patient_keys '
                "WHERE patient_id = %s", s.patients["ana"]) == [(0,)]
    assert rows(container, f'SELECT count(*) FROM "{schema}".analytics_patient_keys') == [(3,)]
    # A rebuild after the key was shredded cannot recompute it either.
    model.reset()
    runner.catch_up()
    assert rows(container, 'SELECT count(*) FROM "{a}".appointment_facts '
                "WHERE patient_key IS NULL") == [(1,)]


def test_no_phi_and_no_patient_id_in_the_analytics_schema(
        container: Container, model: AnalyticsReadModel, postgres: EmbeddedPostgres) -> None:
    """Names, email addresses and visit reasons carry a marker; the whole schema is dumped
    (its tables, not only the views) and searched for it and for every patient id."""
    s = play(drive(container))
    CatchUpRunner(container.app, model).catch_up()
    schema = analytics_schema(container.settings.db_schema)
    dump_text = subprocess.run(
        [str(postgres.binary("pg_dump")), "--no-owner", f"--schema={schema}",
         str(container.settings.database_url)], check=True, capture_output=True).stdout.decode()
    assert "appointment_facts" in dump_text and str(s.visits["a1"]) in dump_text
    assert MARKER.lower() not in dump_text.lower()
    for patient_id in s.patients.values():
        assert str(patient_id) not in dump_text and patient_id.hex not in dump_text


def test_open_minutes_follow_the_published_hours_and_the_clocks(
        container: Container, model: AnalyticsReadModel) -> None:
    """A year of all-day hours: 24 h a day, one hour less or more the day the clocks change
    (the next change from today, wherever the calendar is); a visit booked today counts
    against its day's open minutes."""
    app = drive(container)
    s = play(app)
    now = datetime.now(UTC)
    soon = first_slot(app, s.one, s.boston, s.checkup, now + timedelta(hours=3))
    app.book(s.patients["cy"], soon, "visit", now)
    CatchUpRunner(container.app, model).catch_up()
    zone = ZoneInfo("America/New_York")
    today = local_day(now, zone)
    change = next(today + timedelta(days=n) for n in range(1, 365)
                  if _offset(today + timedelta(days=n), zone)
                  != _offset(today + timedelta(days=n - 1), zone))
    shift = _offset(change, zone) - _offset(change - timedelta(days=1), zone)
    capacity = dict(rows(container, """
        SELECT local_date, open_minutes FROM "{a}".v1_daily_capacity
        WHERE provider_id = %s AND local_date IN (%s, %s)""",
                          s.one, change - timedelta(days=1), change))
    assert capacity == {change - timedelta(days=1): 1440,
                        change: 1440 - int(shift.total_seconds() // 60)}
    day = local_day(soon.start, zone)
    booked = rows(container, """
        SELECT open_minutes, booked_minutes, utilization FROM "{a}".v1_daily_capacity
        WHERE provider_id = %s AND local_date = %s""", s.one, day)
    open_minutes = booked[0][0]
    assert booked == [(open_minutes, 30, round(Decimal(30) / open_minutes, 4))]


def _offset(day: date, zone: ZoneInfo) -> timedelta:
    offset = datetime.combine(day, time(12), zone).utcoffset()
    assert offset is not None
    return offset
