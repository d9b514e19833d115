"""The timeline's look-ups (commands/timeline.py): the audit timeline read model's changes
merged with the access records, in time order, one keyset page at a time.

Each side is one index range (`timeline_subjects`, or `timeline_events` by actor; the
`audit_events` time indexes), and PostgreSQL merges the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from commands.ports import TimelineRow

CHANGE, ACCESS = 0, 1  # which side a row comes from; at the same instant changes go first
_LAST = 2**62

_CHANGES_ABOUT = """
    SELECT e.recorded_at AS at, 0 AS source, e.position AS id, e.actor, e.role, e.purpose,
           e.request_id, e.summary AS description, e.record_id::text AS record_id, e.event,
           e.version, e.patient_id, NULL::text AS outcome
    FROM {s}.timeline_subjects t JOIN {s}.timeline_events e USING (position)
    WHERE t.subject_id = %(subject)s::uuid AND (t.recorded_at, t.position) > (%(at)s, %(change)s)
    ORDER BY t.recorded_at, t.position LIMIT %(limit)s"""
_CHANGES_BY = """
    SELECT e.recorded_at AS at, 0 AS source, e.position AS id, e.actor, e.role, e.purpose,
           e.request_id, e.summary AS description, e.record_id::text AS record_id, e.event,
           e.version, e.patient_id, NULL::text AS outcome
    FROM {s}.timeline_events e
    WHERE e.actor = %(subject)s::text AND (e.recorded_at, e.position) > (%(at)s, %(change)s)
    ORDER BY e.recorded_at, e.position LIMIT %(limit)s"""
_ACCESS = """
    SELECT a.recorded_at AS at, 1 AS source, a.audit_id AS id, a.actor, a.role, a.purpose,
           a.request_id, a.action || ' ' || a.resource || CASE
               WHEN a.outcome = 'denied' THEN ' (' || a.status || ' ' || a.detail || ')'
               WHEN a.detail <> '' THEN ' (' || a.detail || ')' ELSE '' END AS description,
           a.record_id, NULL AS event, NULL::int AS version, a.patient_id, a.outcome
    FROM {s}.audit_events a
    WHERE {where} AND (a.recorded_at, a.audit_id) > (%(at)s, %(access)s)
    ORDER BY a.recorded_at, a.audit_id LIMIT %(limit)s"""
_ACCESS_WHERE = {"patient": "a.patient_id = %(subject)s::uuid",
                 "actor": "a.actor = %(subject)s::text"}
_RECORD_WHERE = "a.record_id = %(subject)s::text"


class PostgresAuditRecords:
    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool, self.schema = pool, f'"{schema}"'

    def timeline(self, of: str, subject: str, after: tuple[datetime, int, int] | None,
                 limit: int) -> list[TimelineRow]:
        changes = (_CHANGES_BY if of == "actor" else _CHANGES_ABOUT).format(s=self.schema)
        access = _ACCESS.format(s=self.schema,
                                where=_ACCESS_WHERE.get(of, _RECORD_WHERE))
        statement = f"({changes}) UNION ALL ({access}) ORDER BY at, source, id LIMIT %(limit)s"
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(sql.SQL(statement),
                           {"subject": subject, "limit": limit, **_after(after)})
            return [TimelineRow(**row) for row in cursor.fetchall()]


def _after(after: tuple[datetime, int, int] | None) -> dict[str, Any]:
    """Where each side resumes: after the cursor's row; at the cursor's instant a change
    sorts before an access record."""
    if after is None:
        return {"at": datetime(1900, 1, 1, tzinfo=UTC), "change": 0, "access": 0}
    at, source, last = after
    return {"at": at, "change": last if source == CHANGE else _LAST,
            "access": 0 if source == CHANGE else last}


