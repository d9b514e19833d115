"""`clinic audit`: prove the event log unaltered (docs/compliance.md)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg import sql

from commands.context import Actor
from commands.timeline import TimelineItem, TimelineOf
from commands.use_cases import UseCases
from domain.access import PurposeOfUse, Role
from infra.cli.errors import CliError, load_settings
from infra.cli.running import use_cases
from infra.postgres.audit_export import FORMATS, ExportError, export
from infra.postgres.audit_verify import verify_log
from infra.wiring.audit import audit_verifier_keys
from infra.wiring.servers import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="verify the event log; export its checkpoints")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="recompute the event log's Merkle tree and check every checkpoint",
        description="Recomputes the tree from the stored events and checks it against the "
        "recorded leaves, the stored signed checkpoints and (--checkpoint) one exported "
        "earlier. Prints the first position that fails and exits 1; 0 if all holds.")
    verify.add_argument("--checkpoint", type=Path, metavar="FILE",
                        help="a signed checkpoint exported earlier (`clinic audit checkpoint`)")
    verify.add_argument("--key", metavar="VERIFIER_KEY", action="append",
                        help="a verifier key to trust (repeat for several; default: this "
                        "deployment's and CLINIC_AUDIT_TRUSTED_KEYS)")
    verify.add_argument("--from", dest="first", type=int, default=1, metavar="POSITION",
                        help="first tree position to compare event by event (1-based)")
    verify.add_argument("--to", dest="last", type=int, default=None, metavar="POSITION",
                        help="last tree position to check")
    verify.set_defaults(handler=run_verify)
    key = actions.add_parser("key", help="print the verifier keys of checkpoints and consent "
                             "receipts, the current one first (publish them: anyone can "
                             "check a checkpoint or a receipt with them)")
    key.set_defaults(handler=print_key)
    checkpoint = actions.add_parser(
        "checkpoint", help="print the newest signed checkpoint (keep it outside the database)")
    checkpoint.set_defaults(handler=print_checkpoint)
    state = actions.add_parser(
        "state", help="a record as it stood at a moment, and what changed since",
        description="Rebuilds any record (patient, appointment, consent, clinic, ...) from its "
        "events up to --as-of, and lists each later change with who, why and for which "
        "purpose. Prints JSON. PHI is withheld unless --purpose states why (then recorded "
        "as a read); a shredded patient's reads as erased.")
    state.add_argument("--aggregate", required=True, type=UUID, metavar="ID")
    state.add_argument("--as-of", required=True, type=datetime.fromisoformat,
                       metavar="ISO-TIME", help="e.g. 2026-12-01T09:00:00+00:00")
    _purpose_argument(state)
    state.set_defaults(handler=print_state)
    timeline = actions.add_parser(
        "timeline", help="every change to someone's records, and every read of them, in order",
        description="Every event about one patient, appointment, provider, clinic or record "
        "(or everything one actor did), oldest first, with time, actor, role, purpose of use, "
        "request id and a one-line description, merged with the PHI reads and refused "
        "requests. No PHI unless --purpose states why (that look is itself recorded).")
    whose = timeline.add_mutually_exclusive_group(required=True)
    for kind in TimelineOf:
        whose.add_argument(f"--{kind.value}", dest="subject",
                           type=str if kind is TimelineOf.actor else UUID,
                           action=_Subject, kind=kind, metavar="NAME" if kind is TimelineOf.actor
                           else "ID")
    timeline.add_argument("--limit", type=int, default=None, metavar="N",
                          help="at most N entries (default: all)")
    timeline.add_argument("--json", action="store_true", help="one JSON object per line")
    _purpose_argument(timeline)
    timeline.set_defaults(handler=print_timeline)
    consents = actions.add_parser(
        "consents", help="the consents a booking needed, as they stood when it was made",
        description="Prints JSON: each consent the booking needed (treatment; telehealth "
        "for a video visit) as it stood at booking time, with its signed receipt.")
    consents.add_argument("--appointment", required=True, type=UUID, metavar="ID")
    consents.set_defaults(handler=print_booking_consents)
    export = actions.add_parser(
        "export", help="stream a window's changes and access records to a file, with the "
        "proof that a third party checks offline",
        description="Writes the events recorded in [--from, --to) and the access records of "
        "that window to --out (jsonl, csv, FHIR R4 AuditEvent ndjson or a Bundle), and "
        "beside it OUT.proof.json: the signed checkpoint covering the exported events and "
        "the hashes that tie them to it (docs/compliance/verify_export.py checks both).")
    export.add_argument("--from", dest="since", type=_moment, default=None,
                        metavar="ISO-TIME", help="from this instant or date (default: the "
                        "beginning)")
    export.add_argument("--to", dest="until", type=_moment, default=None, metavar="ISO-TIME",
                        help="up to this instant or date, excluded (default: now)")
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.set_defaults(handler=run_export)


class _Subject(argparse.Action):
    def __init__(self, *args: Any, kind: TimelineOf, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        namespace.of, namespace.subject = self.kind, str(values)


def _purpose_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--purpose", type=PurposeOfUse, choices=list(PurposeOfUse),
                        metavar="PURPOSE", default=None,
                        help="show PHI, for this purpose of use ("
                        + ", ".join(PurposeOfUse) + "); recorded in the access audit")


def officer() -> Actor:
    """Whoever runs the CLI: recorded as `cli:<login>` in the compliance role."""
    return Actor(subject=f"cli:{getpass.getuser()}", role=Role.compliance,
                 request_id=f"cli-{uuid4()}", purpose=PurposeOfUse.compliance.value)


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


def print_state(args: argparse.Namespace) -> int:
    as_of = args.as_of if args.as_of.tzinfo else args.as_of.replace(tzinfo=UTC)
    with use_cases() as run:
        past = run.audit.state_at(args.aggregate, as_of, officer(), show_phi_for=args.purpose,
                                  door="CLI clinic audit state")
    print(json.dumps(asdict(past), indent=2, default=str))
    return 0


def _moment(text: str) -> datetime:
    """An ISO instant, or a date (its midnight, UTC); UTC when no offset is given."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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


def print_booking_consents(args: argparse.Namespace) -> int:
    with use_cases() as run:
        found = run.consents.at_booking(args.appointment)
    print(found.model_dump_json(indent=2))
    return 0


def print_timeline(args: argparse.Namespace) -> int:
    with use_cases() as run:
        for item in _timeline(run, args):
            print(json.dumps(asdict(item), default=str) if args.json else _line(item))
    return 0


def _timeline(run: UseCases, args: argparse.Namespace) -> Iterator[TimelineItem]:
    left, cursor, actor = args.limit, None, officer()
    while left is None or left > 0:
        page = run.timeline.page(
            args.of, args.subject, actor, cursor=cursor, limit=min(left or 500, 500),
            show_phi_for=args.purpose, door="CLI clinic audit timeline")
        yield from page.items
        left = None if left is None else left - len(page.items)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _line(item: TimelineItem) -> str:
    what = f"{item.event} v{item.version}" if item.kind == "change" else \
        f"access {item.outcome}"
    line = (f"{item.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z  {what}  {item.actor} ({item.role}, "
            f"{item.purpose})  request {item.request_id}  record {item.record_id}\n"
            f"    {item.description}")
    if item.phi:
        line += "\n    PHI: " + json.dumps(item.phi, default=str)
    return line


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} events")
    sys.stderr.flush()
