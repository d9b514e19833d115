"""`clinic analytics export`: one v1 analytics view as CSV or Parquet, streamed.

CSV: PostgreSQL's COPY hands the rows over in chunks as the server produces them, so memory
stays bounded whatever the table's size; the rows hold ids, codes, numbers and times, never a
line break, so counting lines counts rows (for the progress bar).

Parquet (pyarrow): a server-side cursor hands over `batch_rows` rows at a time, each written
as one row group of a file whose schema comes from the view's column types (TYPES), so only
one batch is ever in memory. A column of a type not in TYPES stops the export before it
writes anything: a new view column needs its Parquet type chosen here first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from infra.postgres.analytics import analytics_schema

EXPORTS = {"appointment_facts": "v1_appointment_facts",
           "daily_utilization": "v1_daily_utilization", "daily_capacity": "v1_daily_capacity",
           "slot_supply": "v1_slot_supply", "slots_offered": "v1_slots_offered"}
ORDER = {"appointment_facts": "start_at, appointment_id",
         "daily_utilization": "local_date, clinic_id, provider_id, service_id",
         "daily_capacity": "local_date, clinic_id, provider_id",
         "slot_supply": "local_date, clinic_id, hour",
         "slots_offered": "local_date, clinic_id, hour"}
FORMATS = ("csv", "parquet")
Progress = Callable[[int, int], None]  # rows written, rows in all

# PostgreSQL type (format_type) -> (Parquet type name, SQL cast applied when reading, if any).
# uuid becomes its text form; numeric (utilization, a ratio rounded to 4 places) a double.
TYPES: dict[str, tuple[str, str | None]] = {
    "uuid": ("string", "text"), "text": ("string", None),
    "timestamp with time zone": ("timestamp_utc", None),
    "timestamp without time zone": ("timestamp", None), "date": ("date32", None),
    "smallint": ("int16", None), "integer": ("int32", None), "bigint": ("int64", None),
    "numeric": ("float64", "double precision"), "double precision": ("float64", None),
    "real": ("float32", None), "boolean": ("bool", None)}


class UnsupportedColumnError(ValueError):
    """A view column whose type has no Parquet mapping in TYPES."""


def export_csv(database_url: str, schema: str, table: str, since: date | None,
               sink: BinaryIO, progress: Progress | None = None) -> int:
    """Write the view's rows from clinic-local date `since` on (all when None), with a header
    line, in a stable order; return how many rows were written."""
    view, where = _view(schema, table), _where(since)
    query = sql.SQL("SELECT * FROM {} {} ORDER BY {}").format(view, where, sql.SQL(ORDER[table]))
    written = 0
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        total = _count(conn, view, where) if progress else 0
        copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(query)
        with conn.cursor().copy(copy) as stream:
            for chunk in stream:
                sink.write(chunk)
                written += bytes(chunk).count(b"\n")
                if progress:
                    progress(max(written - 1, 0), total)
    return max(written - 1, 0)  # the header line


def export_parquet(database_url: str, schema: str, table: str, since: date | None,
                   out: Path, progress: Progress | None = None,
                   batch_rows: int = 50_000) -> int:
    """Write the view's rows from clinic-local date `since` on (all when None), in the same
    order as the CSV, to a Parquet file at `out`, one row group per `batch_rows` rows;
    return how many rows were written. Raises UnsupportedColumnError before writing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    view, where = _view(schema, table), _where(since)
    written = 0
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        columns = view_columns(conn, schema, table)
        arrow = pa.schema([pa.field(name, _arrow_type(pa, kind)) for name, kind in columns])
        select = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Identifier(name), sql.SQL(cast))
            if (cast := TYPES[kind][1]) else sql.Identifier(name) for name, kind in columns)
        query = sql.SQL("SELECT {} FROM {} {} ORDER BY {}").format(
            select, view, where, sql.SQL(ORDER[table]))
        total = _count(conn, view, where) if progress else 0
        with conn.cursor(name="analytics_export") as cursor, \
                pq.ParquetWriter(str(out), arrow, compression="zstd") as writer:
            cursor.itersize = batch_rows
            cursor.execute(query)
            while rows := cursor.fetchmany(batch_rows):
                arrays = [pa.array(values, type=field.type)
                          for values, field in zip(zip(*rows, strict=True), arrow, strict=True)]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=arrow))
                written += len(rows)
                if progress:
                    progress(written, total)
    return written


def view_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[tuple[str, str]]:
    """The view's columns in order, with their PostgreSQL types (format_type)."""
    found = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum", (analytics_schema(schema), EXPORTS[table])).fetchall()
    columns = [(str(name), str(kind).split("(")[0]) for name, kind in found]
    unknown = [f"{name} ({kind})" for name, kind in columns if kind not in TYPES]
    if unknown:
        raise UnsupportedColumnError(f"{EXPORTS[table]}: no Parquet type for "
                                     f"{', '.join(unknown)}")
    return columns


def _arrow_type(pa: Any, kind: str) -> Any:
    name = TYPES[kind][0]
    if name == "timestamp_utc":
        return pa.timestamp("us", tz="UTC")
    if name == "timestamp":
        return pa.timestamp("us")
    return {"string": pa.string(), "date32": pa.date32(), "int16": pa.int16(),
            "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
            "float32": pa.float32(), "bool": pa.bool_()}[name]


def _view(schema: str, table: str) -> sql.Identifier:
    return sql.Identifier(analytics_schema(schema), EXPORTS[table])


def _where(since: date | None) -> sql.Composable:
    return sql.SQL("WHERE local_date >= {}").format(sql.Literal(since)) if since \
        else sql.SQL("")


def _count(conn: psycopg.Connection[Any], view: sql.Identifier,
           where: sql.Composable) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} {}").format(view, where)).fetchone()
    return int(row[0]) if row else 0
