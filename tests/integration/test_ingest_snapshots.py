"""The snapshot property of tests/unit/test_ingest_snapshots.py on the real event store:
for any sequence of CSV snapshots, ingesting them in order leaves every record the last one
lists as ingesting only the last one into an empty system would, and no step records more
events than rows changed. Each example is its own pair of sources (our ids derive from the
source's name), so the examples share one database yet start empty."""

from __future__ import annotations

import io
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.context import SYSTEM_ACTOR
from commands.ingest.apply import ingest_id, state_of
from commands.ingest.rows import Kind
from commands.ingest.run import IngestRequest, Mode
from domain.services import Service
from infra.ingest.csv_source import csv_rows
from infra.wiring.container import Container
from tests.unit.test_ingest_snapshots import Row, as_csv, snapshots

_examples = itertools.count()


def _ingest(container: Container, source: str, snapshot: list[Row]) -> int:
    """Events recorded by ingesting one snapshot."""
    recorder = container.app.recorder
    before = recorder.max_notification_id() or 0
    request = IngestRequest(source=source, kinds=(Kind.services,), mode=Mode.snapshot)
    report = container.use_cases.ingestion.run(
        request, csv_rows(io.BytesIO(as_csv(snapshot)), Kind.services), SYSTEM_ACTOR)
    assert not report.rejects
    return (recorder.max_notification_id() or 0) - before


def _services(container: Container, source: str, snapshot: list[Row]) -> dict[str, object]:
    return {ext: state_of(container.app.get(Service, ingest_id(source, "services", ext),
                                            "service")) for ext, *_ in snapshot}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(snapshots, min_size=1, max_size=4))
def test_snapshots_in_order_end_where_the_last_alone_does(
        container: Container, sequence: list[list[Row]]) -> None:
    n = next(_examples)
    in_order, last_only = f"order-{n}", f"last-{n}"
    previous: dict[str, Row] = {}
    for snapshot in sequence:
        changed = sum(1 for row in snapshot if previous.get(row[0]) != row)
        assert _ingest(container, in_order, snapshot) <= changed
        previous |= {row[0]: row for row in snapshot}
    _ingest(container, last_only, sequence[-1])
    assert _services(container, in_order, sequence[-1]) == \
        _services(container, last_only, sequence[-1])
    assert _ingest(container, in_order, sequence[-1]) == 0
