"""Running CSV ingestion in tests as the CLI does: the sample files of docs/examples/ingest,
edited where a test needs, through the use case, counting the events it recorded."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from commands.context import Actor
from commands.ingest.apply import ingest_id
from commands.ingest.rows import Kind
from commands.ingest.run import IngestReport, IngestRequest, Mode
from infra.ingest.csv_source import csv_rows
from infra.wiring.container import Container

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ingest"
KINDS = (Kind.clinics, Kind.services, Kind.providers, Kind.hours)
OPERATOR = Actor(subject="cli:tester", request_id="test", system=True)


def sample(kind: Kind) -> bytes:
    return (EXAMPLES / f"{kind.value}.csv").read_bytes()


def ingest(container: Container, kind: Kind, data: bytes, *, source: str = "csv",
           mode: Mode = Mode.delta, dry_run: bool = False,
           all_or_nothing: bool = False) -> IngestReport:
    request = IngestRequest(source=source, kinds=(kind,), mode=mode, dry_run=dry_run,
                            all_or_nothing=all_or_nothing)
    return container.use_cases.ingestion.run(request, csv_rows(io.BytesIO(data), kind),
                                             OPERATOR)


def ingest_samples(container: Container) -> list[IngestReport]:
    return [ingest(container, kind, sample(kind)) for kind in KINDS]


def events(container: Container) -> int:
    """How many events the store holds."""
    return int(container.app.recorder.max_notification_id() or 0)


def our(kind: Kind, external_id: str, source: str = "csv") -> Any:
    return ingest_id(source, kind.value, external_id)
