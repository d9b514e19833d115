"""`clinic project` and `clinic projections`: keep read models current, rebuild them."""

from __future__ import annotations

import argparse

import psycopg

from infra.cli.errors import CliError, load_settings
from infra.cli.workers import host_until, role_started
from infra.observability.logging import configure_logging
from infra.postgres.follower_health import current_failures
from infra.postgres.read_models import READ_MODELS
from infra.wiring.followers import rebuild
from infra.wiring.servers import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    project = sub.add_parser(
        "project", help="run the read-model projectors and the reminder scheduler until Ctrl-C",
        description="Follow the event log and keep every read model current, and record "
        "reminders as they fall due. A second instance waits as a standby (PostgreSQL "
        "advisory lock).",
    )
    project.set_defaults(handler=run_projectors)

    projections = sub.add_parser("projections", help="inspect or rebuild read models")
    actions = projections.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild_cmd = actions.add_parser(
        "rebuild", help="drop a read model and replay the whole event log into it",
        description="Stop `clinic project` (or `clinic serve`) first: a running projector "
        "holds the read model's lock.",
    )
    rebuild_cmd.add_argument("name", choices=READ_MODELS)
    rebuild_cmd.set_defaults(handler=run_rebuild)
    status = actions.add_parser("status",
                                help="each read model's (and the relay's) position and lag, "
                                "and the event any of them is stuck on")
    status.set_defaults(handler=show_status)


def run_projectors(args: argparse.Namespace) -> int:
    settings, done = role_started("project")
    with Runtime(settings) as resolved:
        host_until(done, resolved)
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    with Runtime(settings) as resolved:
        try:
            applied = rebuild(args.name, resolved)
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
    print(f"{args.name}: rebuilt from {applied} events")
    return 0


def show_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    with Runtime(settings) as resolved, psycopg.connect(str(resolved.database_url)) as conn:
        schema = resolved.db_schema
        head = _scalar(conn, f'SELECT max(notification_id) FROM "{schema}".clinic_events')
        failures = {f.follower: f for f in current_failures(conn, schema)}
        for name in (*READ_MODELS, "relay"):
            at = _scalar(conn, f'SELECT max(notification_id) FROM "{schema}".{name}_tracking '
                               "WHERE application_name = 'clinic'")
            print(f"{name}: position {at or 0} of {head or 0} (lag {(head or 0) - (at or 0)})")
            if (failure := failures.get(name)) is not None:
                print(f"  FAILING at {failure.position} since {failure.since:%Y-%m-%d %H:%M:%S %Z}"
                      f" ({failure.attempts} attempts): {failure.error}")
    return 1 if failures else 0


def _scalar(conn: psycopg.Connection[tuple[int]], query: str) -> int | None:
    try:
        row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return None
    return row[0] if row else None
