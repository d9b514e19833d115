"""Where ingestion runs, their rejected rows and each source's ids are kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class RowReject:
    """Why one imported row was set aside: every reason is one of these (docs/ingest.md)."""

    row: int  # 1 is the first data row (a CSV's header is row 0); 0: not a row (missing)
    column: str
    value: str
    rule: str  # a stable code: pydantic's error type, or a domain error's code
    message: str


@dataclass
class IngestRunRecord:
    """One ingestion run as it is recorded (infra/postgres/ingest_runs.py)."""

    run_id: UUID
    source: str
    kind: str  # one kind, or several joined by ','
    mode: str  # delta | snapshot
    dry_run: bool
    all_or_nothing: bool
    started_by: str
    request_id: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # running | completed | failed
    rows_read: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    missing: list[str] = field(default_factory=list)  # "kind/external id" absent from the input
    retired: list[str] = field(default_factory=list)
    error: str | None = None  # why the source stopped being read (what was read still counts)


class IngestRuns(Protocol):
    """Where ingestion runs, their rejected rows and each source's ids are kept."""

    def start(self, run: IngestRunRecord) -> None: ...
    def finish(self, run: IngestRunRecord, rejects: Sequence[RowReject]) -> None: ...
    def known_ids(self, source: str, kind: str) -> dict[str, UUID]:
        """Every external id this source has brought in for `kind`, with our id."""

    def remember(self, source: str, kind: str, ids: dict[str, UUID]) -> None: ...
