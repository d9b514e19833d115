"""Ingestion runs, their rejected rows, and each source's external ids (the IngestRuns port).

Not a projection: a run is bookkeeping of the door, not a change to the clinic (those are
events). `ingest_ids` lets a snapshot name what a source brought in before and no longer
sends; the ids themselves are derived (decision 0047), so losing this table loses only that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from commands.ports import IngestRunRecord, RowReject
from infra.postgres.tables import run_ddl

DDL = """
CREATE TABLE IF NOT EXISTS {s}.ingest_runs (
    run_id uuid PRIMARY KEY, source text NOT NULL, kind text NOT NULL, mode text NOT NULL,
    dry_run boolean NOT NULL, all_or_nothing boolean NOT NULL, started_by text NOT NULL,
    request_id text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz,
    status text NOT NULL, rows_read int NOT NULL DEFAULT 0, applied int NOT NULL DEFAULT 0,
    unchanged int NOT NULL DEFAULT 0, rejected int NOT NULL DEFAULT 0,
    missing text[] NOT NULL DEFAULT '{}', retired text[] NOT NULL DEFAULT '{}', error text,
    duration_seconds double precision GENERATED ALWAYS AS
        (extract(epoch FROM finished_at - started_at)) STORED);
CREATE INDEX IF NOT EXISTS ingest_runs_by_time ON {s}.ingest_runs (started_at DESC, run_id);
CREATE TABLE IF NOT EXISTS {s}.ingest_rejects (
    run_id uuid NOT NULL REFERENCES {s}.ingest_runs (run_id), seq int NOT NULL,
    row_number int NOT NULL, column_name text NOT NULL, value text NOT NULL,
    rule text NOT NULL, message text NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS {s}.ingest_ids (
    source text NOT NULL, kind text NOT NULL, external_id text NOT NULL, id uuid NOT NULL,
    PRIMARY KEY (source, kind, external_id));
"""
_RUN_COLUMNS = [name for name in IngestRunRecord.__dataclass_fields__]


class PostgresIngestRuns:
    def __init__(self, pool: ConnectionPool[Any], schema: str) -> None:
        self.pool, s = pool, sql.Identifier(schema)
        self.insert_run = sql.SQL("INSERT INTO {}.ingest_runs ({}) VALUES ({})").format(
            s, sql.SQL(", ").join(map(sql.Identifier, _RUN_COLUMNS)),
            sql.SQL(", ").join(map(sql.Placeholder, _RUN_COLUMNS)))
        self.update_run = sql.SQL("UPDATE {}.ingest_runs SET {} WHERE run_id = %(run_id)s").format(
            s, sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c))
                                  for c in _RUN_COLUMNS if c != "run_id"))
        self.insert_reject = sql.SQL(
            "INSERT INTO {}.ingest_rejects (run_id, seq, row_number, column_name, value, rule, "
            "message) VALUES (%s, %s, %s, %s, %s, %s, %s)").format(s)
        self.select_ids = sql.SQL("SELECT external_id, id FROM {}.ingest_ids "
                                  "WHERE source = %s AND kind = %s").format(s)
        self.upsert_id = sql.SQL(
            "INSERT INTO {}.ingest_ids (source, kind, external_id, id) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (source, kind, external_id) DO NOTHING").format(s)
        self.select_successes = sql.SQL(
            "SELECT source, max(finished_at) FROM {}.ingest_runs WHERE status = 'completed' "
            "AND NOT dry_run GROUP BY source").format(s)
        with pool.connection() as conn:
            run_ddl(conn, DDL.replace("{s}", f'"{schema}"'))

    def last_successes(self) -> dict[str, datetime]:
        """When each source last finished a run that was read to its end (not a dry run):
        how stale what it brought in may be (the metrics)."""
        with self.pool.connection() as conn:
            return dict(conn.execute(self.select_successes).fetchall())

    def start(self, run: IngestRunRecord) -> None:
        with self.pool.connection() as conn:
            conn.execute(self.insert_run, asdict(run))

    def finish(self, run: IngestRunRecord, rejects: Sequence[RowReject]) -> None:
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute(self.update_run, asdict(run))
            cursor.executemany(self.insert_reject, [
                (run.run_id, seq, r.row, r.column, r.value, r.rule, r.message)
                for seq, r in enumerate(rejects)])

    def known_ids(self, source: str, kind: str) -> dict[str, UUID]:
        with self.pool.connection() as conn:
            return {ext: our_id for ext, our_id in conn.execute(self.select_ids, (source, kind))}

    def remember(self, source: str, kind: str, ids: dict[str, UUID]) -> None:
        if ids:
            with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(self.upsert_id, [(source, kind, ext, our_id)
                                                    for ext, our_id in ids.items()])
