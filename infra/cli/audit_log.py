"""`clinic audit verify`, `key`, `checkpoint` and `export`: the event log's Merkle tree
checked, its signed checkpoints, and a window exported with its proof (docs/compliance.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from infra.cli.errors import CliError, load_settings
from infra.postgres.audit_export import ExportError, export
from infra.postgres.audit_verify import verify_log
from infra.wiring.audit import audit_verifier_keys
from infra.wiring.servers import Runtime


def run_verify(args: argparse.Namespace) -> int:
    settings = load_settings()
    keys = args.key or audit_verifier_keys(settings)
    exported = None
    if args.checkpoint is not None:
        try:
            exported = args.checkpoint.read_text()
        except OSError as exc:
            raise CliError(f"cannot read {args.checkpoint}: {exc.strerror}") from None
    with Runtime(settings) as resolved:
        assert resolved.database_url
        result = verify_log(resolved.database_url, resolved.db_schema, keys, exported=exported,
                            first=args.first, last=args.last,
                            progress=_progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if not result.ok:
        print(f"FAILED at position {result.position}: {result.failure}")
        return 1
    print(f"ok: {result.covered} events in the tree match the log; "
          f"{result.checkpoints} signed checkpoint(s) verified")
    for note in result.notes:
        print(f"note: {note}")
    return 0


def print_key(args: argparse.Namespace) -> int:
    print("\n".join(audit_verifier_keys(load_settings())))
    return 0


def print_checkpoint(args: argparse.Namespace) -> int:
    settings = load_settings()
    with Runtime(settings) as resolved, psycopg.connect(str(resolved.database_url)) as conn:
        try:
            row = conn.execute(sql.SQL("SELECT note FROM {} ORDER BY size DESC LIMIT 1").format(
                sql.Identifier(resolved.db_schema, "audit_checkpoints"))).fetchone()
        except psycopg.errors.UndefinedTable:
            row = None
    if row is None:
        raise CliError("no checkpoint yet: the audit_log follower has not signed one")
    sys.stdout.write(row[0])
    return 0


def run_export(args: argparse.Namespace) -> int:
    settings = load_settings()
    since = args.since or datetime(1970, 1, 1, tzinfo=UTC)
    until = args.until or datetime.now(UTC)
    if until <= since:
        raise CliError("--to must come after --from")
    with Runtime(settings) as resolved:
        assert resolved.database_url
        try:
            done = export(resolved.database_url, resolved.db_schema, since, until,
                          args.format, args.out, site=settings.audit_origin,
                          progress=_progress if sys.stderr.isatty() else None)
        except (ExportError, OSError) as exc:
            raise CliError(f"export: {exc}") from None
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"wrote {done.changes} changes and {done.accesses} access records to {args.out}")
    if done.proof is not None:
        print(f"proof (checkpoint of {done.plan.size} events, tree positions "
              f"{done.plan.first}..{done.plan.last}): {done.proof}")
    if done.plan.left_out:
        print(f"note: {done.plan.left_out} later events of the window are not under a signed "
              "checkpoint yet; export again after the next one")
    return 0


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} events")
    sys.stderr.flush()
