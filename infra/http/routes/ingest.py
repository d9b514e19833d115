"""/ingest/runs: upload a CSV file of one kind for ingestion, and see what runs did (admin)."""

from __future__ import annotations

from dataclasses import asdict
from tempfile import SpooledTemporaryFile
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from commands.context import Actor
from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import DIRECTORY, Kind
from commands.ingest.run import IngestReport, IngestRequest, Mode
from commands.inputs import IsoDateTime
from domain.access import Scope
from infra.http.deps import IngestionDep, ReadPool, SettingsDep
from infra.http.problems import ProblemError
from infra.http.routes.tags import ADMIN
from infra.http.security import Acting
from infra.ingest.csv_source import csv_rows
from infra.ingest.pulls import pull_partner
from queries.ingest_runs import (
    IngestRunDetail,
    IngestRunPage,
    RowRejectPublic,
    get_run,
    list_runs,
)

router = APIRouter(prefix="/ingest/runs", tags=ADMIN)
Admin = Annotated[Actor, Acting(Scope.directory_write)]
IN_MEMORY = 1 << 20  # an upload beyond this many bytes waits on disk, not in memory
CSV_BODY = {"requestBody": {"required": False, "description": "The CSV file (docs/ingest.md); "
                            "none when `partner` names the source.",
                            "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.get("", response_model=IngestRunPage)
async def read_ingest_runs(
    _: Admin, pool: ReadPool,
    before: Annotated[IsoDateTime | None, Query(description="`next_before` of the last page")
                      ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IngestRunPage:
    """Ingestion runs, newest first: source, mode, counts, duration, who started them."""
    return await list_runs(pool, before, limit)


@router.get("/{run_id}", response_model=IngestRunDetail)
async def read_ingest_run(run_id: UUID, _: Admin, pool: ReadPool) -> IngestRunDetail:
    """One run with its rejected rows and every reason (row, column, value, rule)."""
    return await get_run(pool, run_id)


@router.post("", status_code=201, response_model=IngestRunDetail, openapi_extra=CSV_BODY,
             responses={201: {"description": "The run, done; `Location` names it"},
                        404: {"description": "No partner of that name is configured"},
                        413: {"description": "The file is larger than "
                                             "CLINIC_INGEST_MAX_UPLOAD_MB; nothing was read"}})
async def create_ingest_run(
    request: Request, actor: Admin, ingestion: IngestionDep, settings: SettingsDep,
    response: Response,
    kind: Annotated[Kind | None, Query(description="the CSV file's kind (required for a "
                                       "file); for a partner: only this kind")] = None,
    partner: Annotated[str | None, Query(max_length=63, description=(
        "pull this configured partner (CLINIC_INGEST_PARTNERS) instead of a file"))] = None,
    source: Annotated[str | None, Query(max_length=63, description=(
        "names the source; our ids derive from it: keep it stable (default: upload, or "
        "partner:NAME)"))] = None,
    mode: Mode | None = None,
    dry_run: bool = False,
    all_or_nothing: bool = False,
) -> IngestRunDetail:
    """Ingest a CSV file of one kind, or pull a configured partner now; bad rows are set
    aside with their reasons."""
    if partner is not None:
        report = await run_in_threadpool(
            pull_partner, ingestion, settings, partner, actor,
            kinds=(kind,) if kind else DIRECTORY, mode=mode, dry_run=dry_run,
            all_or_nothing=all_or_nothing, source=source)
        response.headers["Location"] = f"/ingest/runs/{report.run.run_id}"
        return run_detail(report)
    if kind is None:
        raise IngestSourceError("a file cannot be read without its kind: name it with "
                                f"kind= ({', '.join(k.value for k in Kind)})")
    limit = settings.ingest_max_upload_mb << 20
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(settings.ingest_max_upload_mb)  # refused before a byte is read
    with SpooledTemporaryFile(max_size=IN_MEMORY) as upload:
        async for chunk in request.stream():
            if upload.tell() + len(chunk) > limit:  # a chunked upload: stopped at the limit
                raise _too_large(settings.ingest_max_upload_mb)
            upload.write(chunk)
        upload.seek(0)
        command = IngestRequest(source=source or "upload", kinds=(kind,),
                                mode=mode or Mode.delta, dry_run=dry_run,
                                all_or_nothing=all_or_nothing)
        report = await run_in_threadpool(ingestion.run, command, csv_rows(upload, kind), actor)
    response.headers["Location"] = f"/ingest/runs/{report.run.run_id}"
    return run_detail(report)


def _too_large(megabytes: int) -> ProblemError:
    return ProblemError("payload-too-large", f"an uploaded file may hold {megabytes} MB; "
                        "nothing was read. Split it, or ingest it with `clinic ingest FILE`, "
                        "which streams any size", error="upload-too-large")


def run_detail(report: IngestReport) -> IngestRunDetail:
    run = report.run
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return IngestRunDetail(**asdict(run), duration_seconds=seconds,
                           rejects=[RowRejectPublic(**asdict(r)) for r in report.rejects])

