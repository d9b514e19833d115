"""A 50 MB file: uploaded, it is refused unread (413, no run); given to the CLI's reader, a
cell far beyond any field's size stops the run with a clear message, and the rows before it
are in — the reader streams, it never holds the file."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import Kind
from domain.access import Role
from infra.wiring.container import Container
from tests.integration.ingest_support import ingest, sample

FIFTY_MB = 50 << 20


def _runs(container: Container) -> list[tuple[Any, ...]]:
    with container.pool.connection() as conn:
        return list(conn.execute("SELECT status, applied FROM ingest_runs"))


def test_a_50_mb_upload_is_refused_unread(client: TestClient, container: Container,
                                          token_for: Any) -> None:
    body = sample(Kind.clinics) + b"x" * FIFTY_MB
    answer = client.post("/ingest/runs", params={"kind": "clinics"}, content=body, headers={
        **token_for(Role.admin), "content-type": "text/csv"})
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["error"] == "upload-too-large"
    assert _runs(container) == []


def test_a_50_mb_cell_stops_the_run_clearly_after_the_rows_before_it(
        container: Container) -> None:
    good = sample(Kind.clinics).rstrip(b"\n")
    data = good + b"\nhuge," + b"x" * FIFTY_MB + b",a,b,MA,02110,America/New_York,in_person\n"
    with pytest.raises(IngestSourceError) as refused:
        ingest(container, Kind.clinics, data)
    assert "data row 3 has a cell longer than" in refused.value.detail
    assert _runs(container) == [("failed", 2)]
