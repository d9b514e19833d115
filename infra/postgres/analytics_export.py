"""`clinic analytics export`: one v1 analytics view as CSV, streamed by PostgreSQL's COPY.

COPY hands the rows over in chunks as the server produces them, so memory stays bounded
whatever the table's size; the rows hold ids, codes, numbers and times, never a line break,
so counting lines counts rows (for the progress bar).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import BinaryIO

import psycopg
from psycopg import sql

from infra.postgres.analytics import analytics_schema

EXPORTS = {"appointment_facts": "v1_appointment_facts",
           "daily_utilization": "v1_daily_utilization", "daily_capacity": "v1_daily_capacity",
           "slot_supply": "v1_slot_supply"}
ORDER = {"appointment_facts": "start_at, appointment_id",
         "daily_utilization": "local_date, clinic_id, provider_id, service_id",
         "daily_capacity": "local_date, clinic_id, provider_id",
         "slot_supply": "local_date, clinic_id, hour"}
Progress = Callable[[int, int], None]  # rows written, rows in all


def export_csv(database_url: str, schema: str, table: str, since: date | None,
               sink: BinaryIO, progress: Progress | None = None) -> int:
    """Write the view's rows from clinic-local date `since` on (all when None), with a header
    line, in a stable order; return how many rows were written."""
    view = sql.Identifier(analytics_schema(schema), EXPORTS[table])
    where = sql.SQL("WHERE local_date >= {}").format(sql.Literal(since)) if since \
        else sql.SQL("")
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


def _count(conn: psycopg.Connection[tuple[int]], view: sql.Identifier,
           where: sql.Composable) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} {}").format(view, where)).fetchone()
    return int(row[0]) if row else 0
