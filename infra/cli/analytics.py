"""`clinic analytics grant`: a PostgreSQL login for analysts that reads the analytics views only."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from infra.cli.errors import CliError, load_settings
from infra.postgres.analytics import VIEWS, analytics_schema
from infra.postgres.analytics_access import AnalystRoleError, grant_analyst
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


def run_grant(args: argparse.Namespace) -> int:
    password = _password(args.password_file)
    settings = load_settings()
    with Runtime(settings) as resolved:
        assert resolved.database_url
        read_model("analytics", resolved.database_url, resolved.db_schema).datastore.close()
        try:
            grant_analyst(resolved.database_url, resolved.db_schema, args.role, password)
        except AnalystRoleError as exc:
            raise CliError(str(exc)) from None
    schema = analytics_schema(resolved.db_schema)
    print(f"{args.role} can read {', '.join(f'{schema}.{v}' for v in VIEWS)} (and nothing else)")
    return 0


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
