"""CSV ingestion on the real servers: the sample files go in as events through the directory's
use cases and become searchable slots; the same input again records nothing; a changed row
records its change; bad rows are set aside with their reasons while the good ones go in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import Kind
from commands.ingest.run import IngestReport, Mode
from domain.clinics import Clinic
from domain.provenance import context_of
from domain.providers import Provider
from domain.schedules import Schedule
from domain.services import Service
from infra.wiring.container import Container
from tests.builders import first_slot
from tests.driver import drive
from tests.integration.ingest_support import (
    KINDS,
    events,
    ingest,
    ingest_samples,
    our,
    sample,
)


def _sql(container: Container, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with container.pool.connection() as conn:
        return list(conn.execute(query, params))


def test_the_sample_files_become_the_directory_and_searchable_slots(
        container: Container, project: Any) -> None:
    reports = ingest_samples(container)
    assert [(r.run.rows_read, r.run.applied, r.run.rejected) for r in reports] == \
        [(2, 2, 0), (3, 3, 0), (2, 2, 0), (3, 3, 0)], [r.rejects for r in reports]
    app = container.app
    harbor = app.get(Clinic, our(Kind.clinics, "harbor"), "clinic")
    assert (harbor.name, harbor.time_zone, harbor.modalities) == \
        ("Harbor Clinic", "America/New_York", ["in_person", "telehealth"])
    assert app.get(Service, our(Kind.services, "video"), "service").duration_minutes == 30
    one = app.get(Provider, our(Kind.providers, "dr-one"), "provider")
    assert set(one.clinic_ids) == {our(Kind.clinics, "harbor"), our(Kind.clinics, "lakeside")}
    schedule = app.get(Schedule, Schedule.create_id(one.id, harbor.id), "schedule")
    assert schedule.rules.as_dict()["weekly"]["monday"] == [["09:00", "12:00"],
                                                            ["13:00", "17:00"]]
    registered = app.events.get(harbor.id)
    meta = context_of(next(iter(registered)))
    assert meta["actor"] == "ingest:csv" and meta["request_id"] == str(reports[0].run.run_id)

    project()
    slots = _sql(container, "SELECT provider_id, clinic_id, local_start, local_end, "
                 "time_zone FROM open_slots")
    by_schedule = {(p, c) for p, c, *_ in slots}
    assert by_schedule == {(one.id, harbor.id), (one.id, our(Kind.clinics, "lakeside")),
                           (our(Kind.providers, "dr-two"), our(Kind.clinics, "lakeside"))}
    saturday_hours = (time(10), time(14))
    for provider, clinic, start, end, _zone in slots:
        if (provider, clinic) == (one.id, our(Kind.clinics, "lakeside")):
            assert start.weekday() == 5 and saturday_hours[0] <= start.time() and \
                end.time() <= saturday_hours[1]


def test_the_same_input_again_records_nothing(container: Container) -> None:
    ingest_samples(container)
    before = events(container)
    again = ingest_samples(container)
    assert events(container) == before
    assert [(r.run.applied, r.run.unchanged) for r in again] == \
        [(0, 2), (0, 3), (0, 2), (0, 3)]


def test_a_changed_row_records_exactly_its_change(container: Container) -> None:
    ingest_samples(container)
    before = events(container)
    renamed = sample(Kind.services).replace(b"Long visit,60", b"Long consultation,60")
    report = ingest(container, Kind.services, renamed)
    assert (report.run.applied, report.run.unchanged, events(container)) == (1, 2, before + 1)
    longer = sample(Kind.hours).replace(b"dr-two,lakeside,08:00-16:00",
                                        b"dr-two,lakeside,08:00-18:00")
    report = ingest(container, Kind.hours, longer)
    assert (report.run.applied, events(container)) == (1, before + 2)
    schedule_id = Schedule.create_id(our(Kind.providers, "dr-two"), our(Kind.clinics, "lakeside"))
    last = list(container.app.events.get(schedule_id))[-1]
    assert type(last) is Schedule.RulesChanged
    assert last.rules["weekly"]["monday"] == [["08:00", "18:00"]]


def test_a_dry_run_reports_and_records_nothing(container: Container) -> None:
    report = ingest(container, Kind.clinics, sample(Kind.clinics), dry_run=True)
    assert (report.run.applied, events(container)) == (2, 0)
    stored = _sql(container, "SELECT dry_run, applied, status FROM ingest_runs")
    assert stored == [(True, 2, "completed")]


def test_bad_rows_are_set_aside_with_their_reasons_and_the_good_ones_go_in(
        container: Container) -> None:
    bad = sample(Kind.clinics) + (
        b"mars,Mars Base,1 Crater Rd,Olympus,MA,02110,US,Mars/Olympus,in_person,\n"
        b"nozone,No Zone,1 Elm St,Boston,MA,02110,US,America/New_York,in_person;by_owl,555-1234\n")
    report = ingest(container, Kind.clinics, bad)
    assert (report.run.rows_read, report.run.applied, report.run.rejected) == (4, 2, 2)
    reasons = {(r.row, r.column, r.value, r.rule) for r in report.rejects}
    assert (3, "time_zone", "Mars/Olympus", "iana-time-zone") in reasons
    assert (4, "phone", "555-1234", "e164-phone") in reasons
    assert any(r.row == 4 and r.column == "modalities" for r in report.rejects)
    stored = _sql(container, "SELECT row_number, column_name, value, rule FROM ingest_rejects "
                  "WHERE run_id = %s ORDER BY seq", report.run.run_id)
    assert set(stored) == reasons


def test_all_or_nothing_applies_nothing_when_a_row_is_bad(container: Container) -> None:
    bad = sample(Kind.services) + b"forever,Forever,PT9H,in_person\n"
    report = ingest(container, Kind.services, bad, all_or_nothing=True)
    assert (report.run.applied, report.run.rejected, events(container)) == (0, 1, 0)
    assert report.rejects[0].column == "duration_minutes"
    report = ingest(container, Kind.services, sample(Kind.services), all_or_nothing=True)
    assert report.run.applied == 3


def test_dangling_references_are_rejected(container: Container) -> None:
    ingest(container, Kind.clinics, sample(Kind.clinics))
    ingest(container, Kind.services, sample(Kind.services))
    providers = sample(Kind.providers) + b"dr-three,Dr. Three,harbor;nowhere,checkup\n"
    report = ingest(container, Kind.providers, providers)
    assert report.run.applied == 2
    assert [(r.row, r.column, r.value, r.rule) for r in report.rejects] == \
        [(3, "clinics", "nowhere", "unknown-reference")]
    hours = b"provider,clinic,monday\ndr-two,harbor,09:00-10:00\nghost,harbor,09:00-10:00\n"
    report = ingest(container, Kind.hours, hours)
    assert [(r.row, r.rule) for r in report.rejects] == \
        [(1, "unknown-reference"), (2, "unknown-reference")]


def test_hours_off_the_grid_or_outside_a_day_are_rejected(container: Container) -> None:
    for kind in KINDS[:3]:
        ingest(container, kind, sample(kind))
    hours = (b"provider,clinic,monday,tuesday,granularity_minutes\n"
             b"dr-two,lakeside,09:00-12:00,,45\n"
             b"dr-one,harbor,17:00-09:00,,30\n"
             b"dr-one,lakeside,,25:00-26:00,30\n")
    report = ingest(container, Kind.hours, hours)
    assert {(r.row, r.column, r.rule) for r in report.rejects} == {
        (1, "granularity_minutes", "duration-not-multiple-of-granularity"),
        (2, "monday", "hours-inside-a-day"), (3, "tuesday", "hours-inside-a-day")}


def test_overlapping_in_person_hours_across_clinics_are_rejected(container: Container) -> None:
    ingest_samples(container)
    # 08:00-12:00 in Chicago is 09:00-13:00 in Boston, when dr-one is at Harbor.
    overlapping = sample(Kind.hours).replace(b"dr-one,lakeside,,,,,,10:00-14:00",
                                             b"dr-one,lakeside,08:00-12:00,,,,,10:00-14:00")
    report = ingest(container, Kind.hours, overlapping)
    assert (report.run.applied, report.run.unchanged) == (0, 2)
    assert [(r.row, r.rule) for r in report.rejects] == [(2, "overlapping-clinic-hours")]


def test_hours_that_would_strand_a_booked_visit_are_a_rejected_row(
        container: Container, project: Any) -> None:
    ingest_samples(container)
    driver = drive(container)
    patient = driver.ready_patient("Ana", "Ingest", "ana@example.org")
    provider, clinic = our(Kind.providers, "dr-two"), our(Kind.clinics, "lakeside")
    now = datetime.now(UTC)
    slot = first_slot(driver, provider, clinic, our(Kind.services, "checkup"),
                      now + timedelta(days=1))
    driver.book(patient, slot, "checkup", now)
    weekday = slot.start.astimezone(ZoneInfo("America/Chicago")).strftime("%A").lower()
    closed = b"provider,clinic,granularity_minutes,horizon_days\ndr-two,lakeside,30,14\n"
    before = events(container)
    report = ingest(container, Kind.hours, closed)
    assert [(r.row, r.rule) for r in report.rejects] == \
        [(1, "availability-conflicts-with-bookings")], weekday
    assert events(container) == before


@pytest.mark.parametrize("content,complaint", [
    (b"id,name\nx,y\n", "missing column(s) external_id"),
    (b"external_id,name,duration_minutes,modality,colour\nx,y,30,in_person,red\n",
     "unknown column(s) colour"),
    (b"", "the file is empty"),
])
def test_a_header_that_does_not_fit_stops_the_run(container: Container, content: bytes,
                                                  complaint: str) -> None:
    with pytest.raises(IngestSourceError) as refused:
        ingest(container, Kind.services, content)
    assert complaint in refused.value.detail
    assert _sql(container, "SELECT status, rows_read FROM ingest_runs WHERE run_id = %s",
                refused.value.run_id) == [("failed", 0)]


def test_utf8_with_a_byte_order_mark_reads_like_without(container: Container) -> None:
    report = ingest(container, Kind.clinics, b"\xef\xbb\xbf" + sample(Kind.clinics))
    assert (report.run.applied, report.run.rejected) == (2, 0)


def test_a_latin1_line_is_set_aside_with_its_reason_and_the_rows_around_it_go_in(
        container: Container) -> None:
    latin1 = (sample(Kind.services) + "caf\u00e9,Caf\u00e9 visit,30,in_person\n".encode("latin-1")
              + b"short,Short visit,15,in_person\n")
    report = ingest(container, Kind.services, latin1)
    assert (report.run.status, report.run.rows_read, report.run.applied,
            report.run.rejected) == ("completed", 5, 4, 1), report.rejects
    [reject] = report.rejects
    assert (reject.row, reject.rule) == (4, "encoding")
    assert reject.message.startswith("line 5 of the file is not UTF-8 text: save the file as")
    assert "caf" not in reject.value  # the undecodable text is not echoed back
    short = container.app.get(Service, our(Kind.services, "short"), "service")
    assert short.duration_minutes == 15


def test_a_header_that_is_not_utf8_stops_the_run_before_any_row(
        container: Container) -> None:
    latin1 = "external_id,name,dur\u00e9e,modality\nx,X,30,in_person\n".encode("latin-1")
    with pytest.raises(IngestSourceError) as refused:
        ingest(container, Kind.services, latin1)
    assert "the header line is not UTF-8" in refused.value.detail
    assert refused.value.report.run.applied == 0


def test_a_snapshot_retires_hours_it_no_longer_lists_and_a_delta_only_reports_them(
        container: Container) -> None:
    ingest_samples(container)
    without = b"\n".join(line for line in sample(Kind.hours).split(b"\n")
                         if not line.startswith(b"dr-two"))
    delta = ingest(container, Kind.hours, without)
    assert (delta.run.missing, delta.run.retired) == (["hours/dr-two@lakeside"], [])
    snapshot = ingest(container, Kind.hours, without, mode=Mode.snapshot)
    assert (snapshot.run.missing, snapshot.run.retired) == ([], ["hours/dr-two@lakeside"])
    schedule = container.app.get(Schedule, Schedule.create_id(
        our(Kind.providers, "dr-two"), our(Kind.clinics, "lakeside")), "schedule")
    assert not any(schedule.rules.as_dict()["weekly"].values())
    clinics = ingest(container, Kind.clinics, sample(Kind.clinics).split(b"\nlakeside")[0],
                     mode=Mode.snapshot)
    assert clinics.run.missing == ["clinics/lakeside"]  # no retire operation for a clinic


def test_two_concurrent_runs_of_one_source_never_duplicate_an_aggregate(
        container: Container) -> None:
    barrier = threading.Barrier(2)
    reports: list[IngestReport] = []

    def run() -> None:
        barrier.wait()
        for kind in KINDS:
            reports.append(ingest(container, kind, sample(kind)))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r.rejects for r in reports if r.rejects]
    created = _sql(container, "SELECT topic, count(*) FROM clinic_events WHERE topic LIKE "
                   "'%%Registered' OR topic LIKE '%%Published' GROUP BY topic ORDER BY topic")
    assert [count for _, count in created] == [2, 2, 3, 3], created
    for kind, names in ((Kind.clinics, ("harbor", "lakeside")),
                        (Kind.services, ("checkup", "video", "long"))):
        for name in names:
            assert len(list(container.app.events.get(our(kind, name)))) == 1
