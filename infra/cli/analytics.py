"""`clinic analytics grant` (a login that reads the analytics views only) and `clinic analytics
export` (one view as CSV or Parquet, streamed)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.progress import Progress

from infra.cli.errors import CliError, load_settings
from infra.postgres.analytics import VIEWS, analytics_schema
from infra.postgres.analytics_access import AnalystRoleError, grant_analyst
from infra.postgres.analytics_export import (
    EXPORTS,
    FORMATS,
    UnsupportedColumnError,
    export_csv,
    export_parquet,
)
from infra.postgres.read_models import read_model
from infra.wiring.servers import Runtime

PASSWORD_VARIABLE = "CLINIC_ANALYTICS_PASSWORD"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analytics = sub.add_parser("analytics", help="analysts' access to the analytics views")
    actions = analytics.add_subparsers(dest="action", required=True, metavar="ACTION")
    grant = actions.add_parser(
        "grant", help="create (or update) a login that can SELECT the analytics views only",
        description="The password comes from --password-file, else CLINIC_ANALYTICS_PASSWORD, "
        "else a prompt (never from the command line: it would stay in the shell history and "
        "the process list). Running it again sets the password again. docs/read-models.md.",
    )
    grant.add_argument("--role", required=True, help="the login's name (e.g. analyst_ana)")
    grant.add_argument("--password-file", type=Path,
                       help="a file holding the password (e.g. a mounted secret)")
    grant.set_defaults(handler=run_grant)
    export = actions.add_parser(
        "export", help="write one analytics view as CSV or Parquet (streamed, with a progress "
        "bar)",
        description="The v1 view of TABLE, from clinic-local date --since on, in a stable "
        "order, to --out (or, for CSV, standard output). Parquet is written in row groups "
        "of --batch-rows rows, with the view's column types (docs/read-models.md).")
    export.add_argument("table", metavar="TABLE", help=f"one of: {', '.join(EXPORTS)}")
    export.add_argument("--format", choices=FORMATS, default="csv")
    export.add_argument("--since", metavar="YYYY-MM-DD",
                        help="first clinic-local date (default: everything)")
    export.add_argument("--out", type=Path,
                        help="the file to write (default for CSV: standard output)")
    export.add_argument("--batch-rows", type=int, default=50_000, help=argparse.SUPPRESS)
    export.set_defaults(handler=run_export)


def run_grant(args: argparse.Namespace) -> int:
    password = _password(args.password_file)
    settings = load_settings()
    with Runtime(settings) as resolved:
        assert resolved.database_url
        _analytics_ready(resolved.database_url, resolved.db_schema)
        try:
            grant_analyst(resolved.database_url, resolved.db_schema, args.role, password)
        except AnalystRoleError as exc:
            raise CliError(str(exc)) from None
    schema = analytics_schema(resolved.db_schema)
    print(f"{args.role} can read {', '.join(f'{schema}.{v}' for v in VIEWS)} (and nothing else)")
    return 0


def _analytics_ready(database_url: str, schema: str) -> None:
    """The analytics tables and views, created if this database has none yet (idempotent)."""
    read_model("analytics", database_url, schema).datastore.close()


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise CliError(f"cannot read the password file: {exc.strerror}") from None
    if given := os.environ.get(PASSWORD_VARIABLE):
        return given
    if not sys.stdin.isatty():
        raise CliError(f"give the password with --password-file or {PASSWORD_VARIABLE}")
    first = getpass.getpass("password for the analyst login: ")
    if first != getpass.getpass("again: "):
        raise CliError("the passwords differ")
    return first


def run_export(args: argparse.Namespace) -> int:
    if args.table not in EXPORTS:
        raise CliError(f"no analytics table {args.table!r}: choose one of "
                       f"{', '.join(EXPORTS)}")
    since = _since(args.since)
    if args.format == "parquet" and args.out is None:
        raise CliError("--format parquet needs --out FILE")
    settings = load_settings()
    with Runtime(settings) as resolved, ExitStack() as stack:
        assert resolved.database_url
        _analytics_ready(resolved.database_url, resolved.db_schema)
        progress = None
        if sys.stderr.isatty():
            bar = stack.enter_context(Progress(console=Console(stderr=True), transient=True))
            task = bar.add_task(f"{args.table}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

        if args.format == "parquet":
            try:
                rows = export_parquet(resolved.database_url, resolved.db_schema, args.table,
                                      since, args.out, progress, max(1, args.batch_rows))
            except UnsupportedColumnError as exc:
                raise CliError(str(exc)) from None
        else:
            sink: BinaryIO = stack.enter_context(args.out.open("wb")) if args.out \
                else sys.stdout.buffer
            rows = export_csv(resolved.database_url, resolved.db_schema, args.table, since,
                              sink, progress)
            sink.flush()
    print(f"{args.table}: {rows} rows", file=sys.stderr)
    return 0


def _since(given: str | None) -> date | None:
    if given is None:
        return None
    try:
        return date.fromisoformat(given)
    except ValueError:
        raise CliError(f"--since {given!r} is not a date: give YYYY-MM-DD") from None
