"""`clinic audit`: prove the event log unaltered, and show what the records were and who
touched them (docs/compliance.md). The subcommands' arguments; they run in audit_log.py
(the log and its proofs) and audit_records.py (records, timelines, consents)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from commands.timeline import TimelineOf
from domain.access import PurposeOfUse
from infra.cli.audit_log import print_checkpoint, print_key, run_export, run_verify
from infra.cli.audit_records import print_booking_consents, print_state, print_timeline
from infra.postgres.audit_export import FORMATS


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


def _moment(text: str) -> datetime:
    """An ISO instant, or a date (its midnight, UTC); UTC when no offset is given."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
