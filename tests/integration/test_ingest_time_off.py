"""Time off (dated exceptions) from CSV: each row sets one date's exception and leaves the
weekly hours and the other dates alone; the same file again records nothing; a snapshot
takes back what it no longer lists; the slots of a day off disappear once projected."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands.ingest.rows import Kind
from commands.ingest.run import Mode
from domain.schedules import Schedule
from infra.wiring.container import Container
from tests.integration.ingest_support import events, ingest, ingest_samples, our, sample


def _exceptions(container: Container, provider: str, clinic: str) -> list[dict[str, Any]]:
    schedule = container.app.get(Schedule, Schedule.create_id(
        our(Kind.providers, provider), our(Kind.clinics, clinic)), "schedule")
    found: list[dict[str, Any]] = schedule.rules.as_dict()["exceptions"]
    return found


def test_time_off_rows_set_one_date_each_and_again_change_nothing(
        container: Container) -> None:
    ingest_samples(container)
    weekly = container.app.get(Schedule, Schedule.create_id(
        our(Kind.providers, "dr-one"), our(Kind.clinics, "harbor")), "schedule").rules.weekly
    report = ingest(container, Kind.time_off, sample(Kind.time_off))
    assert (report.run.applied, report.run.rejected) == (3, 0), report.rejects
    assert _exceptions(container, "dr-one", "harbor") == [
        {"date": "2027-01-01", "kind": "off", "intervals": []},
        {"date": "2027-01-04", "kind": "off", "intervals": [["13:00", "17:00"]]}]
    assert _exceptions(container, "dr-two", "lakeside") == [
        {"date": "2027-01-09", "kind": "extra", "intervals": [["09:00", "12:00"]]}]
    assert container.app.get(Schedule, Schedule.create_id(
        our(Kind.providers, "dr-one"), our(Kind.clinics, "harbor")),
        "schedule").rules.weekly == weekly

    before = events(container)
    again = ingest(container, Kind.time_off, sample(Kind.time_off))
    assert (again.run.applied, again.run.unchanged, events(container)) == (0, 3, before)
    changed = sample(Kind.time_off).replace(b"2027-01-09,extra,09:00-12:00",
                                            b"2027-01-09,extra,09:00-13:00")
    assert ingest(container, Kind.time_off, changed).run.applied == 1
    assert events(container) == before + 1

    fewer = b"\n".join(line for line in sample(Kind.time_off).split(b"\n")
                       if b"2027-01-01" not in line)
    delta = ingest(container, Kind.time_off, fewer)
    assert delta.run.missing == ["time_off/dr-one@harbor/2027-01-01"]
    snapshot = ingest(container, Kind.time_off, fewer, mode=Mode.snapshot)
    assert snapshot.run.retired == ["time_off/dr-one@harbor/2027-01-01"]
    assert [e["date"] for e in _exceptions(container, "dr-one", "harbor")] == ["2027-01-04"]


def test_bad_time_off_rows_are_set_aside_with_their_reasons(container: Container) -> None:
    ingest_samples(container)
    bad = (b"provider,clinic,date,kind,hours\n"
           b"dr-two,harbor,2027-01-01,off,\n"  # dr-two has no hours at harbor
           b"dr-one,harbor,2027-02-30,off,\n"  # no such date
           b"dr-one,harbor,2027-01-05,extra,\n"  # extra hours need their hours
           b"dr-one,harbor,2027-01-06,holiday,\n"  # not a kind
           b"dr-one,harbor,2027-01-07,off,\n")  # the good one
    report = ingest(container, Kind.time_off, bad)
    assert (report.run.applied, report.run.rejected) == (1, 4)
    reasons = {(r.row, r.column) for r in report.rejects}
    assert {(1, "provider"), (2, "date"), (4, "kind")} <= reasons, report.rejects
    assert any(r.row == 3 for r in report.rejects)
    assert [e["date"] for e in _exceptions(container, "dr-one", "harbor")] == ["2027-01-07"]


def test_a_day_off_takes_that_days_slots_away(container: Container, project: Any) -> None:
    ingest_samples(container)
    project()
    zone = ZoneInfo("America/New_York")
    day = next(d for d in ((datetime.now(zone) + timedelta(days=n)).date()
                           for n in range(3, 10)) if d.weekday() < 5)
    provider, clinic = our(Kind.providers, "dr-one"), our(Kind.clinics, "harbor")

    def open_that_day() -> int:
        with container.pool.connection() as conn:
            found = conn.execute("SELECT count(*) FROM open_slots WHERE provider_id = %s AND "
                                 "clinic_id = %s AND local_start::date = %s AND "
                                 "status = 'open'", (provider, clinic, day)).fetchone()
        return int(found[0]) if found else 0

    assert open_that_day() > 0
    row = f"provider,clinic,date,kind,hours\ndr-one,harbor,{day.isoformat()},off,\n"
    assert ingest(container, Kind.time_off, row.encode()).run.applied == 1
    project()
    assert open_that_day() == 0
    assert datetime.now(UTC) < datetime.combine(day, datetime.min.time(), zone)


def test_concurrent_days_off_on_one_schedule_all_stay(container: Container) -> None:
    """Each change is computed from the schedule as its save reads it: four runs setting
    four dates at once lose none (a change built on a stale read would undo the others)."""
    ingest_samples(container)
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def day_off(n: int) -> None:
        row = f"provider,clinic,date,kind,hours\ndr-one,harbor,2027-02-0{n + 1},off,\n"
        barrier.wait()
        try:
            assert ingest(container, Kind.time_off, row.encode()).run.applied == 1
        except BaseException as exc:  # reported below, with the others
            failures.append(exc)

    threads = [threading.Thread(target=day_off, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [e["date"] for e in _exceptions(container, "dr-one", "harbor")] == [
        f"2027-02-0{n + 1}" for n in range(4)]


def test_ids_with_at_signs_and_one_spelling_of_a_date(container: Container) -> None:
    ingest_samples(container)
    odd = (sample(Kind.providers).rstrip(b"\n")
           + b"\ndr@odd.org,Dr. Odd,harbor,checkup\n")
    assert ingest(container, Kind.providers, odd).rejects == []
    hours = (b"provider,clinic,monday\n" b"dr@odd.org,harbor,09:00-12:00\n")
    assert ingest(container, Kind.hours, hours).run.applied == 1
    rows = (b"provider,clinic,date,kind,hours\n"
            b"dr@odd.org,harbor,2027-03-01,off,\n"
            b"dr@odd.org,harbor,2027-03-02T00:00:00,off,\n")  # not YYYY-MM-DD
    report = ingest(container, Kind.time_off, rows)
    assert (report.run.applied, [(r.row, r.column, r.rule) for r in report.rejects]) == (
        1, [(2, "date", "iso-date")])
    taken_back = ingest(container, Kind.time_off, b"provider,clinic,date,kind,hours\n",
                        mode=Mode.snapshot)
    assert taken_back.run.retired == ["time_off/dr@odd.org@harbor/2027-03-01"]
    assert _exceptions(container, "dr@odd.org", "harbor") == []
