"""Refusals only the use case finds — in-person hours overlapping the provider's at another
clinic (within the run, or against stored hours) and hours or time off that would strand a
booked visit — are found before anything is recorded: with all-or-nothing nothing applies,
and a dry run reports those rows as rejected with their reason (decision 0067)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from commands.ingest.checks import Checked, Checker
from commands.ingest.rows import Kind
from commands.ingest.run import IngestReport, Mode
from commands.ports import RowReject
from domain.schedules import Schedule
from infra.ingest.csv_source import csv_rows
from infra.wiring.container import Container
from tests.builders import first_slot
from tests.driver import drive
from tests.integration.ingest_support import (
    KINDS,
    OPERATOR,
    events,
    ingest,
    ingest_samples,
    our,
    sample,
)

MODES = ["all-or-nothing", "dry-run"]
LAKESIDE = ZoneInfo("America/Chicago")


def _run(container: Container, kind: Kind, data: bytes, mode: str) -> IngestReport:
    return ingest(container, kind, data, all_or_nothing=mode == "all-or-nothing",
                  dry_run=mode == "dry-run")


def _reasons(report: IngestReport) -> list[tuple[int, str]]:
    return [(r.row, r.rule) for r in report.rejects]


def _refused(result: Checked | list[RowReject]) -> list[tuple[int, str]]:
    assert not isinstance(result, Checked)
    return [(r.row, r.rule) for r in result]


def _stored_rejects(container: Container, report: IngestReport) -> list[tuple[Any, ...]]:
    with container.pool.connection() as conn:
        return list(conn.execute("SELECT row_number, rule FROM ingest_rejects WHERE run_id = "
                                 "%s ORDER BY seq", (report.run.run_id,)))


def _counts(report: IngestReport) -> tuple[int, int, int]:
    return report.run.applied, report.run.unchanged, report.run.rejected


def _book_dr_two_at_lakeside(container: Container) -> datetime:
    """A booked visit with dr-two at Lakeside from tomorrow on; its start."""
    driver = drive(container)
    patient = driver.ready_patient("Ana", "Ingest", "ana@example.org")
    now = datetime.now(UTC)
    slot = first_slot(driver, our(Kind.providers, "dr-two"), our(Kind.clinics, "lakeside"),
                      our(Kind.services, "checkup"), now + timedelta(days=1))
    driver.book(patient, slot, "checkup", now)
    return slot.start


@pytest.mark.parametrize("mode", MODES)
def test_hours_overlapping_within_the_run(container: Container, mode: str) -> None:
    for kind in KINDS[:3]:
        ingest(container, kind, sample(kind))
    before = events(container)
    # 08:00-12:00 in Chicago is 09:00-13:00 in Boston, when row 1 has dr-one at Harbor.
    hours = (b"provider,clinic,monday,granularity_minutes\n"
             b"dr-one,harbor,09:00-12:00,30\n"
             b"dr-two,lakeside,08:00-16:00,30\n"
             b"dr-one,lakeside,08:00-12:00,30\n")
    report = _run(container, Kind.hours, hours, mode)
    assert _reasons(report) == [(3, "overlapping-clinic-hours")]
    assert _stored_rejects(container, report) == [(3, "overlapping-clinic-hours")]
    assert "Harbor Clinic" in report.rejects[0].message
    assert events(container) == before
    assert _counts(report) == ((0, 0, 1) if mode == "all-or-nothing" else (2, 0, 1))
    assert container.app.find(Schedule, Schedule.create_id(
        our(Kind.providers, "dr-one"), our(Kind.clinics, "harbor"))) is None


@pytest.mark.parametrize("mode", MODES)
def test_hours_overlapping_stored_hours(container: Container, mode: str) -> None:
    ingest_samples(container)
    before = events(container)
    changed = sample(Kind.hours).replace(
        b"dr-one,lakeside,,,,,,10:00-14:00", b"dr-one,lakeside,08:00-12:00,,,,,10:00-14:00"
    ).replace(b"dr-two,lakeside,08:00-16:00,", b"dr-two,lakeside,08:00-17:00,")
    report = _run(container, Kind.hours, changed, mode)
    assert _reasons(report) == [(2, "overlapping-clinic-hours")]
    assert events(container) == before
    assert _counts(report) == ((0, 0, 1) if mode == "all-or-nothing" else (1, 1, 1))
    dr_two = container.app.get(Schedule, Schedule.create_id(
        our(Kind.providers, "dr-two"), our(Kind.clinics, "lakeside")), "schedule")
    assert dr_two.rules.as_dict()["weekly"]["monday"] == [["08:00", "16:00"]]


@pytest.mark.parametrize("mode", MODES)
def test_hours_that_would_strand_a_booked_visit(container: Container,
                                                mode: str) -> None:
    ingest_samples(container)
    _book_dr_two_at_lakeside(container)
    before = events(container)
    hours = (b"provider,clinic,saturday,granularity_minutes,horizon_days\n"
             b"dr-one,lakeside,10:00-15:00,30,14\n"
             b"dr-two,lakeside,,30,14\n")  # no hours at all: the visit would be stranded
    report = _run(container, Kind.hours, hours, mode)
    assert _reasons(report) == [(2, "availability-conflicts-with-bookings")]
    assert events(container) == before
    assert _counts(report) == ((0, 0, 1) if mode == "all-or-nothing" else (1, 0, 1))


@pytest.mark.parametrize("mode", MODES)
def test_time_off_that_would_strand_a_booked_visit(container: Container,
                                                   mode: str) -> None:
    ingest_samples(container)
    booked = _book_dr_two_at_lakeside(container).astimezone(LAKESIDE).date()
    before = events(container)
    rows = (f"provider,clinic,date,kind,hours\n"
            f"dr-one,harbor,2027-01-01,off,\n"
            f"dr-two,lakeside,{booked.isoformat()},off,\n").encode()
    report = _run(container, Kind.time_off, rows, mode)
    assert _reasons(report) == [(2, "availability-conflicts-with-bookings")]
    assert events(container) == before
    assert _counts(report) == ((0, 0, 1) if mode == "all-or-nothing" else (1, 0, 1))


def test_all_or_nothing_applies_every_row_when_none_would_be_refused(
        container: Container) -> None:
    """The decision in memory is only a decision: the rows then go in for real, each once."""
    ingest_samples(container)
    _book_dr_two_at_lakeside(container)
    before = events(container)
    hours = (b"provider,clinic,saturday,granularity_minutes,horizon_days\n"
             b"dr-one,lakeside,10:00-15:00,30,14\n")
    report = ingest(container, Kind.hours, hours, all_or_nothing=True)
    assert (_counts(report), report.rejects) == ((1, 0, 0), [])
    assert events(container) == before + 1
    dry = ingest(container, Kind.hours, hours, dry_run=True)
    assert (_counts(dry), events(container)) == ((0, 1, 0), before + 1)


def test_the_checker_finds_overlapping_hours_in_the_run_and_in_the_store(
        container: Container) -> None:
    """In a plain run too, a row that adds hours is decided in memory when it is checked,
    on top of the run's earlier rows (here checked, not yet applied) and the stored hours."""
    for kind in KINDS[:3]:
        ingest(container, kind, sample(kind))
    before = events(container)
    checker = Checker(container.use_cases.directory, "csv", OPERATOR)
    hours = (b"provider,clinic,monday,granularity_minutes\n"
             b"dr-one,harbor,09:00-12:00,30\n"
             b"dr-one,lakeside,08:00-12:00,30\n")
    first, second = csv_rows(io.BytesIO(hours), Kind.hours)
    assert isinstance(checker.check(first), Checked)
    refused = checker.check(second)
    assert _refused(refused) == [(2, "overlapping-clinic-hours")]
    assert events(container) == before

    ingest(container, Kind.hours, sample(Kind.hours))
    before = events(container)
    # A Monday within the hours' horizon: dr-one is at Harbor 09:00-12:00 Boston time, that
    # is 08:00-11:00 in Chicago.
    monday = next(d for d in ((datetime.now(LAKESIDE) + timedelta(days=n)).date()
                              for n in range(2, 9)) if d.weekday() == 0)
    extra = (f"provider,clinic,date,kind,hours\n"
             f"dr-one,lakeside,{monday},extra,08:00-10:00\n"
             f"dr-one,lakeside,{monday},extra,17:00-18:00\n").encode()
    overlapping, apart = csv_rows(io.BytesIO(extra), Kind.time_off)
    refused = Checker(container.use_cases.directory, "csv", OPERATOR).check(overlapping)
    assert _refused(refused) == [(1, "overlapping-clinic-hours")]
    assert isinstance(Checker(container.use_cases.directory, "csv", OPERATOR).check(apart),
                      Checked)
    assert events(container) == before


def test_all_or_nothing_covers_a_snapshots_retirements(container: Container) -> None:
    """A snapshot that no longer lists dr-two's hours would retire them, stranding the
    booked visit: with all-or-nothing the run's other changes stay out too."""
    ingest_samples(container)
    _book_dr_two_at_lakeside(container)
    before = events(container)
    without_dr_two = b"\n".join(
        line for line in sample(Kind.hours).split(b"\n") if not line.startswith(b"dr-two")
    ).replace(b"dr-one,lakeside,,,,,,10:00-14:00", b"dr-one,lakeside,,,,,,10:00-15:00")
    report = ingest(container, Kind.hours, without_dr_two, mode=Mode.snapshot,
                    all_or_nothing=True)
    assert (_reasons(report), report.rejects[0].value) == (
        [(0, "availability-conflicts-with-bookings")], "dr-two@lakeside")
    assert (_counts(report), report.run.retired, events(container)) == ((0, 0, 0), [], before)
    applied = ingest(container, Kind.hours, without_dr_two, mode=Mode.snapshot)
    assert (applied.run.applied, events(container)) == (1, before + 1)  # rows without it


@pytest.mark.parametrize("all_or_nothing,dry_run", [(True, False), (True, True),
                                                    (False, True)])
def test_a_snapshots_retirements_are_reported_in_both_modes(
        container: Container, all_or_nothing: bool, dry_run: bool) -> None:
    """Nothing booked: the hours the snapshot no longer lists are retired (or would be)."""
    ingest_samples(container)
    without_dr_two = b"\n".join(line for line in sample(Kind.hours).split(b"\n")
                                if not line.startswith(b"dr-two"))
    before = events(container)
    report = ingest(container, Kind.hours, without_dr_two, mode=Mode.snapshot,
                    all_or_nothing=all_or_nothing, dry_run=dry_run)
    assert (report.rejects, report.run.retired) == ([], ["hours/dr-two@lakeside"])
    assert (events(container) == before) is dry_run
