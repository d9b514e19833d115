"""/audit-events: the compliance view of the access audit (reads of PHI and refusals)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from commands.inputs import IsoDateTime
from domain.access import Scope
from infra.auth.tokens import Principal
from infra.http.deps import ReadPool
from infra.http.security import Authorized
from queries.audit import audit_events

router = APIRouter(prefix="/audit-events", tags=["compliance"])
Auditor = Annotated[Principal, Authorized(Scope.audit_read)]


class Outcome(StrEnum):
    allowed = "allowed"
    denied = "denied"


class AuditEventView(BaseModel):
    audit_id: int
    recorded_at: datetime
    actor: str
    role: str
    action: str
    resource: str
    patient_id: UUID | None
    record_id: str | None
    purpose: str
    outcome: str
    status: int
    detail: str
    request_id: str


class AuditPage(BaseModel):
    events: list[AuditEventView]
    next_before: int | None


@router.get("", response_model=AuditPage)
async def read_audit_events(
    _: Auditor,
    pool: ReadPool,
    patient_id: UUID | None = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    outcome: Outcome | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    before: Annotated[int | None, Query(ge=1, description="`next_before` of the last page")
                      ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who read which PHI, and which requests were refused: newest first."""
    rows = await audit_events(pool, patient_id=patient_id, actor=actor,
                              outcome=outcome.value if outcome else None, since=since,
                              until=until, before=before, limit=limit)
    events = [AuditEventView(**row) for row in rows]
    return AuditPage(events=events,
                     next_before=events[-1].audit_id if len(events) == limit else None)
