"""The access audit trail and the audit timeline's records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class AuditEntry:
    """One access record: a read of PHI, or a refused request (infra/postgres/audit_trail.py).
    Changes need none: every event records who made it (domain/provenance.py)."""

    actor: str
    role: str
    action: str  # "read" (PHI shown) or "denied"
    resource: str  # "METHOD /route/{template}", or the CLI command
    purpose: str
    outcome: str  # "allowed" | "denied"
    status: int
    request_id: str
    patient_id: UUID | None = None  # whose PHI, when one patient's
    record_id: str | None = None  # the record read (appointment id, provider/day...)
    detail: str = ""  # the problem code of a denial
    client: str = ""  # keyed hash of the client address


class AccessTrail(Protocol):
    def record(self, *entries: AuditEntry) -> None:
        """Append, in one transaction; raises if they cannot be stored (then show nothing)."""


@dataclass(frozen=True)
class TimelineRow:
    source: int  # 0: a change (an event), 1: an access record; at one instant changes first
    id: int  # the change's notification id, the access record's id
    at: datetime
    actor: str
    role: str
    purpose: str
    request_id: str
    description: str
    record_id: str | None
    event: str | None
    version: int | None
    patient_id: UUID | None
    outcome: str | None


class AuditRecords(Protocol):
    def timeline(self, of: str, subject: str, after: tuple[datetime, int, int] | None,
                 limit: int) -> list[TimelineRow]:
        """Changes about `subject` (or made by it, for an actor) merged with its access
        records, ordered by (at, source, id), after the cursor's (at, source, id)."""
