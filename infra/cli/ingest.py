"""`clinic ingest SOURCE`: bring directory data in through the ingestion use case
(docs/ingest.md) and print what the run did."""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TextIO

from commands.context import Actor
from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import DIRECTORY, Kind, SourceRow
from commands.ingest.run import IngestReport, IngestRequest, Mode, Progress
from commands.ports import IngestRunRecord
from infra.cli.errors import CliError, load_settings
from infra.cli.running import use_cases
from infra.cli.workers import until_signal
from infra.ingest.csv_source import csv_rows
from infra.ingest.fhir_source import bundle_content, bundle_rows
from infra.ingest.pulls import PARTNER, UnknownPartnerError, pull_partner, watch
from infra.observability.logging import configure_logging
from infra.settings import Settings

FHIR = "fhir:"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = sub.add_parser(
        "ingest", help="import clinics, services, providers and hours (CSV, partner API)",
        description="Checks every row (shape, references, rules), applies the good ones "
        "through the same use cases as the API (each change an event by ingest:<source>), "
        "sets the bad ones aside with every reason, and records the run (GET /ingest/runs). "
        "Running the same input again changes nothing. Exit status: 0 all rows good, 1 some "
        "rows rejected, 2 the source could not be read (docs/ingest.md).")
    ingest.add_argument("source", metavar="SOURCE", nargs="?", help="a CSV file; "
                        "partner:NAME (a partner API configured in CLINIC_INGEST_PARTNERS); "
                        "or fhir:PATH or fhir:URL (a FHIR R4 Bundle)")
    ingest.add_argument("--watch", action="store_true",
                        help="instead of one SOURCE: pull every configured partner every "
                        "`every_minutes` until stopped (one active watcher across processes; "
                        "another waits and takes over)")
    ingest.add_argument("--kind", choices=[k.value for k in Kind],
                        help="what the rows are (required for a CSV file; a partner's "
                        "default: clinics, services, providers and hours, in that order)")
    ingest.add_argument("--source-name", default=None, metavar="NAME",
                        help="names the source: its records' ids derive from it, so keep it "
                        "the same for every export of one system (default: csv, "
                        "partner:NAME or fhir)")
    ingest.add_argument("--mode", choices=[m.value for m in Mode], default=None,
                        help="snapshot: the file is everything, and hours it no longer "
                        "lists are retired (default: delta)")
    ingest.add_argument("--dry-run", action="store_true",
                        help="check every row and try it in memory through the directory's "
                        "own rules (overlaps, stranded visits); record no change")
    ingest.add_argument("--all-or-nothing", action="store_true",
                        help="check and try every row first; apply nothing if any row would "
                        "be refused")
    ingest.set_defaults(handler=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    if args.watch:
        return _watch(settings, args)
    if not args.source:
        raise CliError("name a SOURCE (a CSV file, partner:NAME or fhir:...), or --watch")
    kinds = (Kind(args.kind),) if args.kind else DIRECTORY
    mode = Mode(args.mode) if args.mode else None
    operator = Actor(subject=f"cli:{getpass.getuser()}", request_id=f"cli-{uuid.uuid4()}",
                     system=True)
    if args.source.startswith(PARTNER):
        with use_cases() as running:
            return _report(lambda: pull_partner(
                running.ingestion, settings, args.source.removeprefix(PARTNER), operator,
                kinds=kinds, mode=mode, dry_run=args.dry_run,
                all_or_nothing=args.all_or_nothing, source=args.source_name,
                progress=_progress(sys.stderr)))
    opened: AbstractContextManager[Iterator[SourceRow]]
    if args.source.startswith(FHIR):
        try:
            rows = bundle_rows(bundle_content(args.source.removeprefix(FHIR)))
        except IngestSourceError as exc:
            raise CliError(exc.detail) from None
        opened, default_name = nullcontext(r for r in rows if r.kind in kinds), "fhir"
    else:
        path = Path(args.source)
        if not path.is_file():
            raise CliError(f"no file {path}")
        if not args.kind:
            raise CliError("--kind is required for a CSV file: which schema does it follow?")
        opened, default_name = _csv(path, kinds[0]), "csv"
    request = IngestRequest(source=args.source_name or default_name, kinds=kinds,
                            mode=mode or Mode.delta, dry_run=args.dry_run,
                            all_or_nothing=args.all_or_nothing)
    with use_cases() as running, opened as source_rows:
        return _report(lambda: running.ingestion.run(request, source_rows, operator,
                                                     _progress(sys.stderr)))


def _report(run: Callable[[], IngestReport]) -> int:
    """Run, print the report; the exit status says whether every row was good."""
    try:
        report = run()
    except IngestSourceError as exc:
        if exc.report is not None:
            print_report(exc.report, sys.stdout)
        raise CliError(exc.detail) from None
    except UnknownPartnerError as exc:
        raise CliError(exc.detail) from None
    print_report(report, sys.stdout)
    return 1 if report.run.rejected else 0


def _watch(settings: Settings, args: argparse.Namespace) -> int:
    if args.source or args.kind or args.dry_run or args.all_or_nothing or args.mode:
        raise CliError("--watch pulls every configured partner as configured: give it no "
                       "SOURCE or other option")
    done = until_signal()
    with use_cases() as running:
        watch(running.ingestion, settings, done)
    return 0


@contextmanager
def _csv(path: Path, kind: Kind) -> Iterator[Iterator[SourceRow]]:
    with path.open("rb") as stream:
        yield csv_rows(stream, kind)


def _progress(out: TextIO) -> Progress | None:
    """A one-line progress indication on a terminal; nothing when output is redirected."""
    if not out.isatty():
        return None

    def show(run: IngestRunRecord) -> None:
        end = "\n" if run.finished_at else ""
        out.write(f"\r{run.rows_read} rows read: {run.applied} applied, {run.unchanged} "
                  f"unchanged, {run.rejected} rejected{end}")
        out.flush()

    return show


def print_report(report: IngestReport, out: TextIO) -> None:
    run = report.run
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    flags = " (dry run: nothing recorded)" if run.dry_run else ""
    print(f"run {run.run_id}  source {run.source}  kind {run.kind}  mode {run.mode}  "
          f"{run.status}{flags}", file=out)
    header = ("rows read", "applied", "unchanged", "rejected", "missing", "retired", "seconds")
    values = (run.rows_read, run.applied, run.unchanged, run.rejected, len(run.missing),
              len(run.retired), f"{seconds:.2f}")
    widths = [max(len(h), len(str(v))) for h, v in zip(header, values, strict=True)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)), file=out)
    print("  ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True)), file=out)
    for reject in report.rejects:
        where = f"row {reject.row}" if reject.row else "missing"
        cell = f" {reject.column}={reject.value!r}" if reject.column else \
            f" {reject.value!r}" if reject.value else ""
        print(f"  {where}{cell}: {reject.rule}: {reject.message}", file=out)
    for name, items in (("missing", run.missing), ("retired", run.retired)):
        if items:
            print(f"  {name}: {', '.join(items)}", file=out)
    if run.error:
        print(f"  stopped: {run.error}", file=out)
