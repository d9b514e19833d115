"""Ingestion runs as recorded (infra/postgres/ingest_runs.py): newest first, and one run with
its rejected rows and their reasons."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from domain.errors import NotFoundError
from queries.db import ReadPool, fetch_all

_RUN = """SELECT run_id, source, kind, mode, dry_run, all_or_nothing, started_by, request_id,
    started_at, finished_at, duration_seconds, status, rows_read, applied, unchanged, rejected,
    missing, retired, error FROM ingest_runs"""


class IngestRunPublic(BaseModel):
    run_id: UUID
    source: str
    kind: str
    mode: str
    dry_run: bool
    all_or_nothing: bool
    started_by: str
    request_id: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    status: str
    rows_read: int
    applied: int
    unchanged: int
    rejected: int
    missing: list[str]
    retired: list[str]
    error: str | None


class RowRejectPublic(BaseModel):
    row: int
    column: str
    value: str
    rule: str
    message: str


class IngestRunDetail(IngestRunPublic):
    rejects: list[RowRejectPublic]


class IngestRunPage(BaseModel):
    runs: list[IngestRunPublic]
    next_before: datetime | None  # pass as `before` for older runs


async def list_runs(pool: ReadPool, before: datetime | None, limit: int) -> IngestRunPage:
    rows = await fetch_all(pool, f"{_RUN} WHERE %(b)s::timestamptz IS NULL OR started_at < %(b)s "
                           "ORDER BY started_at DESC, run_id LIMIT %(n)s",
                           {"b": before, "n": limit})
    runs = [IngestRunPublic(**row) for row in rows]
    return IngestRunPage(runs=runs, next_before=runs[-1].started_at if len(runs) == limit
                         else None)


async def get_run(pool: ReadPool, run_id: UUID) -> IngestRunDetail:
    rows = await fetch_all(pool, f"{_RUN} WHERE run_id = %s", (run_id,))
    if not rows:
        raise NotFoundError(f"no ingestion run with id {run_id}")
    rejects = await fetch_all(pool, """SELECT row_number AS row, column_name AS column, value,
        rule, message FROM ingest_rejects WHERE run_id = %s ORDER BY seq""", (run_id,))
    return IngestRunDetail(**rows[0], rejects=[RowRejectPublic(**r) for r in rejects])
