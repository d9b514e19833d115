"""`clinic analytics export`: a v1 view as CSV or Parquet, from a clinic-local date on, in a
stable order; `clinic projections status` shows the analytics projector's position and lag."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow as pa
import pyarrow.parquet as pq

from infra.postgres.analytics import FACT_COLUMNS, SUPPLY_COLUMNS, analytics_schema
from infra.postgres.analytics_export import EXPORTS, ORDER
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.driver import drive
from tests.integration.analytics_script import analytics_model, clinic, play, rows


def test_export_writes_the_view_from_a_date_on(container: Container, tmp_path: Path) -> None:
    s = play(drive(container))
    model = analytics_model(container)
    try:
        CatchUpRunner(container.app, model).catch_up()
    finally:
        model.datastore.close()
    out = tmp_path / "facts.csv"
    done = clinic(container, "analytics", "export", "appointment_facts", "--format", "csv",
                  "--since", "2027-03-13", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "appointment_facts: 6 rows" in done.stderr
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == FACT_COLUMNS
    # Every visit but a6 (Friday 12th in Chicago), by start; a3 and a4 share theirs.
    names = {str(v): k for k, v in s.visits.items()}
    order = [names[r[0]] for r in rows[1:]]
    assert order[:2] == ["a1", "a2"] and set(order[2:4]) == {"a3", "a4"}
    assert order[4:] == ["a5", "a7"]

    supply = clinic(container, "analytics", "export", "slot_supply")
    assert supply.returncode == 0, supply.stderr
    table = list(csv.reader(io.StringIO(supply.stdout)))
    assert tuple(table[0]) == SUPPLY_COLUMNS and len(table) == 1 + 6

    refused = clinic(container, "analytics", "export", "slot_supply", "--since", "March")
    assert refused.returncode == 2 and "--since" in refused.stderr

    head = container.app.recorder.max_notification_id()
    status = clinic(container, "projections", "status")
    assert f"analytics: position {head} of {head} (lag 0)" in status.stdout, status.stdout


def test_parquet_holds_the_view_rows_with_their_types(container: Container,
                                                      tmp_path: Path) -> None:
    play(drive(container))
    model = analytics_model(container)
    try:
        CatchUpRunner(container.app, model).catch_up()
    finally:
        model.datastore.close()
    for table, view in EXPORTS.items():
        out = tmp_path / f"{table}.parquet"
        done = clinic(container, "analytics", "export", table, "--format", "parquet",
                      "--out", str(out), "--batch-rows", "2")
        assert done.returncode == 0, done.stderr
        expected = _view_rows(container, view, ORDER[table])
        assert expected, table
        assert f"{table}: {len(expected)} rows" in done.stderr
        written = pq.ParquetFile(out)
        assert written.metadata.num_row_groups == (len(expected) + 1) // 2  # streamed in twos
        got = written.read()
        assert got.column_names == list(expected[0])
        assert got.to_pylist() == expected, table

    facts = pq.read_schema(tmp_path / "appointment_facts.parquet")
    assert facts.field("appointment_id").type == pa.string()
    assert facts.field("start_at").type == pa.timestamp("us", tz="UTC")
    assert facts.field("local_start").type == pa.timestamp("us")
    assert facts.field("local_date").type == pa.date32()
    assert facts.field("reschedule_count").type == pa.int32()
    assert facts.field("late_cancellation").type == pa.bool_()
    assert pq.read_schema(tmp_path / "slot_supply.parquet").field("hour").type == pa.int16()
    capacity = pq.read_schema(tmp_path / "daily_capacity.parquet")
    assert capacity.field("utilization").type == pa.float64()

    # The same rows as the CSV export, from the same date on.
    since = tmp_path / "since.parquet"
    done = clinic(container, "analytics", "export", "appointment_facts", "--format", "parquet",
                  "--since", "2027-03-13", "--out", str(since))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(since)
    assert table.num_rows == 6 and min(table.column("local_date").to_pylist()) >= \
        date(2027, 3, 13)
    as_csv = clinic(container, "analytics", "export", "appointment_facts", "--since",
                    "2027-03-13")
    ids = [r[0] for r in list(csv.reader(io.StringIO(as_csv.stdout)))[1:]]
    assert table.column("appointment_id").to_pylist() == ids


def test_export_refuses_clearly(container: Container, tmp_path: Path) -> None:
    out = str(tmp_path / "x.parquet")
    for args, message in (
            (("nonsense", "--format", "parquet", "--out", out), "no analytics table 'nonsense'"),
            (("slot_supply", "--format", "parquet", "--since", "2027-02-30", "--out", out),
             "--since '2027-02-30' is not a date"),
            (("slot_supply", "--format", "parquet"), "--format parquet needs --out")):
        refused = clinic(container, "analytics", "export", *args)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith(f"clinic: {message}"), refused.stderr
        assert "Traceback" not in refused.stderr
    assert not Path(out).exists()
    bad_format = clinic(container, "analytics", "export", "slot_supply", "--format", "xlsx")
    assert bad_format.returncode == 2 and "--format" in bad_format.stderr


def _view_rows(container: Container, view: str, order: str) -> list[dict[str, Any]]:
    found = rows(container, f'SELECT * FROM "{{a}}".{view} ORDER BY {order}')
    names = [r[0] for r in rows(
        container, "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        f'"{analytics_schema(container.settings.db_schema)}".{view}')]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in found]


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value
