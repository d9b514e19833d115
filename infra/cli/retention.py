"""`clinic retention run`: erase patients past the retention period (crypto-shredding)."""

from __future__ import annotations

import argparse
import getpass
import uuid
from datetime import UTC, datetime

from commands.context import Actor
from infra.cli.errors import CliError, load_settings
from infra.cli.running import use_cases
from infra.observability.logging import configure_logging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    retention = sub.add_parser("retention", help="apply the PHI retention policy")
    actions = retention.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="erase patients inactive for CLINIC_RETENTION_YEARS",
        description="Erases (crypto-shreds) every patient whose last activity and last visit "
        "ended more than CLINIC_RETENTION_YEARS ago. The event log stays complete; their "
        "PHI becomes unreadable everywhere. See docs/privacy.md.")
    run.add_argument("--dry-run", action="store_true", help="list, erase no one")
    run.add_argument("--as-of", type=datetime.fromisoformat, default=None, metavar="ISO-TIME",
                     help="judge inactivity as of this time instead of now (with --dry-run "
                     "to preview a future run)")
    run.add_argument("--limit", type=int, default=10_000, help="at most this many patients")
    run.set_defaults(handler=run_policy)


def run_policy(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    now = args.as_of or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if now > datetime.now(UTC) and not args.dry_run:
        raise CliError("--as-of in the future only previews: add --dry-run (erasure is final)")
    operator = Actor(subject=f"cli:{getpass.getuser()}", request_id=f"retention-{uuid.uuid4()}",
                     purpose="legal", system=True)
    with use_cases() as running:
        run = running.retention.run(operator, now, dry_run=args.dry_run, limit=args.limit)
    verb = "would erase" if run.dry_run else "erased"
    count = len(run.candidates) if run.dry_run else len(run.erased)
    print(f"retention cutoff {run.cutoff.isoformat()}: {verb} {count} patient(s)")
    for patient_id in run.candidates:
        print(f"  {patient_id}")
    if run.failed:
        raise CliError(f"{len(run.failed)} erasure(s) failed (see the log); run again")
    return 0
