"""The access audit stream, for the compliance role: newest first, filtered, paged by id.

One statement per combination of filters, as in slot search (docs/performance.md): an
`(%s IS NULL OR col = %s)` statement turns into a generic plan that ignores the indexes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

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
