"""The access audit stream, for the compliance role: newest first, filtered, paged by id.

One statement per combination of filters, as in slot search (docs/performance.md): an
`(%s IS NULL OR col = %s)` statement turns into a generic plan that ignores the indexes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from queries.db import ReadPool, fetch_all

_COLUMNS = """audit_id, recorded_at, actor, role, action, resource, patient_id, record_id,
       purpose, outcome, status, detail, request_id"""
_CONDITIONS = {
    "before": "audit_id < %(before)s", "patient": "patient_id = %(patient)s",
    "actor": "actor = %(actor)s", "outcome": "outcome = %(outcome)s",
    "since": "recorded_at >= %(since)s", "until": "recorded_at < %(until)s",
}


def audit_sql(filters: dict[str, Any]) -> str:
    where = [_CONDITIONS[name] for name, value in filters.items() if value is not None]
    return (f"SELECT {_COLUMNS} FROM audit_events "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY audit_id DESC LIMIT %(limit)s")


async def audit_events(pool: ReadPool, *, patient_id: UUID | None, actor: str | None,
                       outcome: str | None, since: datetime | None, until: datetime | None,
                       before: int | None, limit: int) -> list[dict[str, Any]]:
    filters = {"patient": patient_id, "actor": actor, "outcome": outcome, "since": since,
               "until": until, "before": before}
    return await fetch_all(pool, audit_sql(filters), {**filters, "limit": limit})


async def latest_checkpoint(pool: ReadPool) -> dict[str, Any]:
    """The newest signed checkpoint of the event log's tree (none before the audit_log
    follower signed one), how far the tree has come, and how many events came after each."""
    try:
        rows = await fetch_all(pool, """
            SELECT c.size, c.root, c.note, c.created_at,
                   (SELECT coalesce(max(size), 0) FROM audit_frontier) AS tree_size,
                   (SELECT count(*) FROM clinic_events e WHERE e.notification_id >
                       coalesce((SELECT l.notification_id FROM audit_leaves l
                                 WHERE l.tree_index = c.size), 0)) AS after_checkpoint,
                   (SELECT count(*) FROM clinic_events e WHERE e.notification_id >
                       coalesce((SELECT max(notification_id) FROM audit_log_tracking), 0)
                   ) AS after_tree
            FROM (SELECT * FROM audit_checkpoints ORDER BY size DESC LIMIT 1) c""")
    except psycopg.errors.UndefinedTable:  # the follower has never run here
        rows = []
    return rows[0] if rows else {}
