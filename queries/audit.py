"""The access audit stream, for the compliance role: newest first, filtered, paged by id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from queries.db import ReadPool, fetch_all

_SELECT = """
SELECT audit_id, recorded_at, actor, role, action, resource, patient_id, record_id, purpose,
       outcome, status, detail, request_id
FROM audit_events
WHERE (%(before)s::bigint IS NULL OR audit_id < %(before)s)
  AND (%(patient)s::uuid IS NULL OR patient_id = %(patient)s)
  AND (%(actor)s::text IS NULL OR actor = %(actor)s)
  AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s)
  AND (%(since)s::timestamptz IS NULL OR recorded_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR recorded_at < %(until)s)
ORDER BY audit_id DESC LIMIT %(limit)s
"""


async def audit_events(pool: ReadPool, *, patient_id: UUID | None, actor: str | None,
                       outcome: str | None, since: datetime | None, until: datetime | None,
                       before: int | None, limit: int) -> list[dict[str, Any]]:
    return await fetch_all(pool, _SELECT, {
        "patient": patient_id, "actor": actor, "outcome": outcome, "since": since,
        "until": until, "before": before, "limit": limit})
