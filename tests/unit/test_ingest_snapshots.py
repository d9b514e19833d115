"""Ingestion as a function of its input (in memory, each port a fake): for any sequence of CSV
snapshots — of services, and of weekly hours with time off — ingesting them in order leaves
every record the last one lists as ingesting only the last one into an empty system would,
and no step records more events than rows changed."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta
from itertools import chain

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.context import SYSTEM_ACTOR
from commands.ingest.apply import ingest_id, state_of
from commands.ingest.rows import Kind
from commands.ingest.run import IngestRequest, Mode
from commands.use_cases import UseCases
from domain.schedules import Schedule
from domain.services import Service
from infra.ingest.csv_source import csv_rows
from tests.fakes import in_memory_use_cases

COLUMNS = ["external_id", "name", "duration_minutes", "modality"]
Row = tuple[str, str, int, str]

rows = st.tuples(st.sampled_from(["checkup", "video", "long", "flu"]),
                 st.sampled_from(["Checkup", "Video visit", "Long visit", " Flu shot "]),
                 st.sampled_from([15, 30, 45, 60]),
                 st.sampled_from(["in_person", "telehealth"]))
snapshots = st.lists(rows, max_size=4, unique_by=lambda row: row[0])


def as_csv(snapshot: list[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(snapshot)
    return out.getvalue().encode()


def ingest(use_cases: UseCases, snapshot: list[Row]) -> int:
    """Events recorded by ingesting one snapshot."""
    before = use_cases.directory.app.recorder.max_notification_id() or 0
    request = IngestRequest(source="hr", kinds=(Kind.services,), mode=Mode.snapshot)
    report = use_cases.ingestion.run(request, csv_rows(io.BytesIO(as_csv(snapshot)),
                                                       Kind.services), SYSTEM_ACTOR)
    assert not report.rejects
    return (use_cases.directory.app.recorder.max_notification_id() or 0) - before


def services(use_cases: UseCases, snapshot: list[Row]) -> dict[str, object]:
    app = use_cases.directory.app
    return {ext: state_of(app.get(Service, ingest_id("hr", "services", ext), "service"))
            for ext, *_ in snapshot}


@settings(max_examples=40, deadline=None)
@given(st.lists(snapshots, min_size=1, max_size=5))
def test_snapshots_in_order_end_where_the_last_alone_does(sequence: list[list[Row]]) -> None:
    in_order, last_only = in_memory_use_cases(), in_memory_use_cases()
    previous: dict[str, Row] = {}
    for snapshot in sequence:
        changed = sum(1 for row in snapshot if previous.get(row[0]) != row)
        assert ingest(in_order, snapshot) <= changed
        previous |= {row[0]: row for row in snapshot}
    ingest(last_only, sequence[-1])
    assert services(in_order, sequence[-1]) == services(last_only, sequence[-1])
    assert ingest(in_order, sequence[-1]) == 0


# Weekly hours and time off: each provider works at one clinic (so no two rows' hours can
# overlap across clinics: that refusal is tested in tests/integration/test_ingest_rehearsal.py).
PROVIDERS = {"dr-one": "harbor", "dr-two": "lakeside", "dr-three": "harbor"}
DIRECTORY = {
    Kind.clinics: b"external_id,name,address_line,city,state,postal_code,time_zone,modalities\n"
                  b"harbor,Harbor,1 Main St,Boston,MA,02110,America/New_York,in_person\n"
                  b"lakeside,Lakeside,2 Lake St,Chicago,IL,60601,America/Chicago,in_person\n",
    Kind.services: b"external_id,name,duration_minutes,modality\ncheckup,Checkup,30,in_person\n",
    Kind.providers: b"external_id,display_name,clinics,services\n" + b"".join(
        f"{p},Dr. {p},{c},checkup\n".encode() for p, c in PROVIDERS.items()),
}
RANGES = ["", "09:00-12:00", "09:00-12:00;13:00-17:00", "10:00-14:00"]
DAYS = [(date.today() + timedelta(days=n)).isoformat() for n in (2, 3, 9)]  # in the horizon
Hours = tuple[str, str, str, int]  # provider, monday, thursday, granularity
TimeOff = tuple[str, str, str, str]  # provider, date, kind, hours
Snapshot = tuple[list[Hours], list[TimeOff]]

hours_rows = st.tuples(st.sampled_from(list(PROVIDERS)), st.sampled_from(RANGES),
                       st.sampled_from(RANGES), st.sampled_from([15, 30]))
days_off = st.one_of(st.tuples(st.just("off"), st.sampled_from(["", "13:00-15:00"])),
                     st.tuples(st.just("extra"), st.sampled_from(["18:00-19:00",
                                                                  "07:00-08:00"])))


@st.composite
def week_snapshots(draw: st.DrawFn) -> Snapshot:
    """Hours rows, and time off only for providers whose hours this snapshot lists (time off
    needs hours to be an exception to)."""
    hours = draw(st.lists(hours_rows, max_size=3, unique_by=lambda row: row[0]))
    if not hours:
        return hours, []
    time_off = draw(st.lists(st.tuples(st.sampled_from([row[0] for row in hours]),
                                       st.sampled_from(DAYS), days_off),
                             max_size=4, unique_by=lambda row: row[:2]))
    return hours, [(p, day, kind, ranges) for p, day, (kind, ranges) in time_off]


def with_directory() -> UseCases:
    use_cases = in_memory_use_cases()
    for kind, content in DIRECTORY.items():
        request = IngestRequest(source="hr", kinds=(kind,))
        report = use_cases.ingestion.run(request, csv_rows(io.BytesIO(content), kind),
                                         SYSTEM_ACTOR)
        assert not report.rejects, report.rejects
    return use_cases


def week_csv(snapshot: Snapshot) -> tuple[bytes, bytes]:
    hours = "provider,clinic,monday,thursday,granularity_minutes\n" + "".join(
        f"{p},{PROVIDERS[p]},{monday},{thursday},{step}\n"
        for p, monday, thursday, step in snapshot[0])
    time_off = "provider,clinic,date,kind,hours\n" + "".join(
        f"{p},{PROVIDERS[p]},{day},{kind},{ranges}\n" for p, day, kind, ranges in snapshot[1])
    return hours.encode(), time_off.encode()


def ingest_week(use_cases: UseCases, snapshot: Snapshot) -> Counter[str]:
    """Events recorded by ingesting one snapshot of hours and time off, by event class."""
    recorder = use_cases.directory.app.recorder
    before = recorder.max_notification_id() or 0
    hours, time_off = week_csv(snapshot)
    request = IngestRequest(source="hr", kinds=(Kind.hours, Kind.time_off),
                            mode=Mode.snapshot)
    rows = chain(csv_rows(io.BytesIO(hours), Kind.hours),
                 csv_rows(io.BytesIO(time_off), Kind.time_off))
    report = use_cases.ingestion.run(request, rows, SYSTEM_ACTOR)
    assert not report.rejects, report.rejects
    return Counter(n.topic.rsplit(":", 1)[-1]  # module:Class.Event
                   for n in recorder.select_notifications(before + 1, 10_000))


def schedules(use_cases: UseCases, snapshot: Snapshot) -> dict[str, object]:
    app = use_cases.directory.app
    return {p: app.get(Schedule, Schedule.create_id(
        ingest_id("hr", "providers", p), ingest_id("hr", "clinics", PROVIDERS[p])),
        "schedule").rules.as_dict() for p, *_ in snapshot[0]}


@settings(max_examples=30, deadline=None)
@given(st.lists(week_snapshots(), min_size=1, max_size=4))
def test_hours_and_time_off_snapshots_in_order_end_where_the_last_alone_does(
        sequence: list[Snapshot]) -> None:
    in_order, last_only = with_directory(), with_directory()
    live: dict[tuple[str, ...], tuple[object, ...]] = {}  # each row key's row in effect
    for snapshot in sequence:
        now: dict[tuple[str, ...], tuple[object, ...]] = {(row[0],): row for row in snapshot[0]} | \
            {(row[0], row[1]): row for row in snapshot[1]}
        changed = sum(1 for key, row in now.items() if live.get(key) != row) + \
            sum(1 for key in live if key not in now)  # retired: emptied, taken back
        recorded = ingest_week(in_order, snapshot)
        # A schedule records one event per changed row at most; the only other events are
        # the guards on the calendars of days that lose hours (decision 0037).
        schedule_events = sum(n for topic, n in recorded.items()
                              if topic.startswith("Schedule."))
        assert schedule_events <= changed, (recorded, changed)
        assert set(recorded) <= {"Schedule.Published", "Schedule.RulesChanged",
                                 "ProviderCalendar.Opened", "ProviderCalendar.RulesRevised"}
        live = now
    ingest_week(last_only, sequence[-1])
    assert schedules(in_order, sequence[-1]) == schedules(last_only, sequence[-1])
    again = ingest_week(in_order, sequence[-1])
    assert again == Counter()
