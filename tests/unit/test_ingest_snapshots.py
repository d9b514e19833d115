"""Ingestion as a function of its input (in memory, each port a fake): for any sequence of CSV
snapshots, ingesting them in order leaves every record the last one lists as ingesting only
the last one into an empty system would, and no step records more events than rows changed."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.context import SYSTEM_ACTOR
from commands.ingest.apply import ingest_id, state_of
from commands.ingest.rows import Kind
from commands.ingest.run import IngestRequest, Mode
from commands.use_cases import UseCases
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
