"""The ingestion use case: one run over a source's rows, recorded (docs/ingest.md).

Rows stream through: each is checked (commands/ingest/checks.py) and, if good, applied
through the directory's use cases as `ingest:<source>` with the run id as the events'
request id (decision 0047). A bad row is set aside with every reason; with all-or-nothing,
every row is checked and decided in memory first (commands/ingest/rehearsal.py) and nothing
applies if any would be refused; a dry run only decides in memory (decision 0067). A source
that stops being readable ends the run as failed: what was read before still counts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID, uuid4

from commands.context import Actor
from commands.directory import Directory
from commands.ingest.apply import Applier, Outcome
from commands.ingest.checks import Checked, Checker
from commands.ingest.errors import IngestSourceError, InvalidSourceNameError
from commands.ingest.rows import ROW_MODELS, Kind, SourceRow
from commands.ports import IngestRunRecord, IngestRuns, RowReject
from domain.errors import DomainError

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,62}$")
PROGRESS_EVERY = 200  # rows between progress reports
RETIRABLE = (Kind.hours, Kind.time_off)  # what a snapshot can take away (docs/ingest.md)


class Mode(StrEnum):
    delta = "delta"  # the input holds changes; records it does not mention are only reported
    snapshot = "snapshot"  # the input is everything: missing records are retired where the
    # domain can retire them (hours), reported otherwise


@dataclass(frozen=True)
class IngestRequest:
    source: str  # names the source: its records' ids derive from it (keep it stable)
    kinds: tuple[Kind, ...]
    mode: Mode = Mode.delta
    dry_run: bool = False
    all_or_nothing: bool = False


@dataclass
class IngestReport:
    run: IngestRunRecord
    rejects: list[RowReject] = field(default_factory=list)


Progress = Callable[[IngestRunRecord], None]
Missing = tuple[list[str], list[str], list[RowReject]]  # missing, retired, refused retirements


class Ingestion:
    def __init__(self, directory: Directory, runs: IngestRuns) -> None:
        self.directory, self.runs = directory, runs

    def run(self, request: IngestRequest, rows: Iterable[SourceRow], starter: Actor,
            progress: Progress | None = None) -> IngestReport:
        """Check and apply every row; IngestSourceError (after recording the run) when the
        source could not be read to its end."""
        if not _SOURCE_NAME.match(request.source):
            raise InvalidSourceNameError("a source name is 1-63 lowercase letters, digits and "
                                         ". _ : - (it keys the source's ids: keep it stable)")
        run = IngestRunRecord(
            run_id=uuid4(), source=request.source, kind=",".join(request.kinds),
            mode=request.mode.value, dry_run=request.dry_run,
            all_or_nothing=request.all_or_nothing, started_by=starter.subject,
            request_id=starter.request_id, started_at=datetime.now(UTC))
        self.runs.start(run)
        actor = Actor(subject=f"ingest:{request.source}", system=True,
                      request_id=str(run.run_id), purpose="operations")
        checker = Checker(self.directory, request.source, actor,
                          rehearse_all=request.dry_run or request.all_or_nothing)
        one = _Run(run, request, self.runs, checker, progress,
                   checker.trial if request.dry_run else Applier(self.directory, actor))
        try:
            if one.go(rows):
                one.record_missing(*(one.decided if one.decided is not None
                                     else one.missing(one.applier)))
            run.status = "completed"
        except IngestSourceError as exc:
            run.status, run.error = "failed", exc.detail
        run.finished_at = datetime.now(UTC)
        if not request.dry_run:
            for kind, ids in one.ids.items():
                self.runs.remember(request.source, kind.value, ids)
        self.runs.finish(run, one.rejects)
        if progress:
            progress(run)
        report = IngestReport(run, one.rejects)
        if run.error is not None:
            raise IngestSourceError(run.error, run_id=run.run_id, report=report)
        return report


class _Run:
    """The state of one run: counts, rejects, the keys seen and the ids brought in."""

    def __init__(self, run: IngestRunRecord, request: IngestRequest, runs: IngestRuns,
                 checker: Checker, progress: Progress | None, applier: Applier) -> None:
        self.run, self.request, self.runs = run, request, runs
        self.checker, self.progress, self.applier = checker, progress, applier
        self.rejects: list[RowReject] = []
        self.seen: defaultdict[Kind, set[str]] = defaultdict(set)
        self.ids: defaultdict[Kind, dict[str, UUID]] = defaultdict(dict)
        self.decided: Missing | None = None  # what is missing, decided before the rows

    def go(self, rows: Iterable[SourceRow]) -> bool:
        """False when all-or-nothing found a row (or a retirement) that would be refused:
        then nothing applied."""
        checked: Iterable[tuple[SourceRow, Checked | None]] = (self.check(raw) for raw in rows)
        if self.request.all_or_nothing:
            checked = list(checked)  # every row checked and decided in memory before any applies
            if self.run.rejected:
                return False
            decided = self.missing(self.checker.trial)
            if decided[2]:  # a retirement would be refused
                self.rejects.extend(decided[2])
                return False
            if self.request.dry_run:  # that decision is the dry run's answer
                self.decided = decided
        for raw, good in checked:
            if good is not None:
                self.apply(raw, good)
            if self.progress and self.run.rows_read % PROGRESS_EVERY == 0:
                self.progress(self.run)
        return True

    def check(self, raw: SourceRow) -> tuple[SourceRow, Checked | None]:
        self.run.rows_read += 1
        key = ROW_MODELS[raw.kind].raw_key(raw.values)
        if key in self.seen[raw.kind]:
            self.refuse([RowReject(
                raw.number, "external_id" if raw.kind not in RETIRABLE else "provider",
                key, "duplicate-row", "an earlier row of this run has the same id")])
            return raw, None
        self.seen[raw.kind].add(key)
        result = self.checker.check(raw)
        if isinstance(result, Checked):
            return raw, result
        self.refuse(result)
        return raw, None

    def refuse(self, rejects: list[RowReject]) -> None:
        self.rejects.extend(rejects)
        self.run.rejected += 1

    def apply(self, raw: SourceRow, checked: Checked) -> None:
        """For real; in a dry run, the outcome decided in memory at the check."""
        if self.request.dry_run:
            outcome = checked.outcome
        else:
            try:
                outcome = checked.apply(self.applier)
            except DomainError as exc:  # e.g. a booking made since the row was checked
                self.checker.forget(checked)
                self.refuse([RowReject(raw.number, "", "", exc.code, exc.detail)])
                return
            finally:
                self.checker.settle()
        if outcome is Outcome.applied:
            self.run.applied += 1
        else:
            self.run.unchanged += 1
        self.ids[checked.kind][checked.key] = checked.id

    def missing(self, applier: Applier) -> Missing:
        """Records this source brought in before that the input does not mention: reported;
        in a snapshot, hours are retired (emptied) and time off taken back, through
        `applier` (in memory, for all-or-nothing's decision). The domain cannot retire a
        clinic, service or provider: those stay reported (docs/ingest.md)."""
        missing: list[str] = []
        retired: list[str] = []
        refused: list[RowReject] = []
        for kind in self.request.kinds:
            for key, our_id in sorted(self.runs.known_ids(self.request.source,
                                                          kind.value).items()):
                if key in self.seen[kind]:
                    continue
                if self.request.mode is not Mode.snapshot or kind not in RETIRABLE:
                    missing.append(f"{kind.value}/{key}")
                    continue
                retire = self.checker.retired_time_off(key) if kind is Kind.time_off \
                    else lambda applier, schedule_id=our_id: applier.retire_hours(schedule_id)
                try:
                    if retire(applier) is Outcome.applied:
                        retired.append(f"{kind.value}/{key}")
                except DomainError as exc:
                    missing.append(f"{kind.value}/{key}")
                    refused.append(RowReject(0, "", key, exc.code, exc.detail))
        return missing, retired, refused

    def record_missing(self, missing: list[str], retired: list[str],
                       refused: list[RowReject]) -> None:
        self.run.missing.extend(missing)
        self.run.retired.extend(retired)
        self.rejects.extend(refused)
