"""`clinic audit state`, `timeline` and `consents`: a record as it stood, everything done to
someone's records, a booking's consents; run as the compliance officer (docs/compliance.md)."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC
from uuid import uuid4

from commands.context import Actor
from commands.timeline import TimelineItem
from commands.use_cases import UseCases
from domain.access import PurposeOfUse, Role
from infra.cli.running import use_cases


def officer() -> Actor:
    """Whoever runs the CLI: recorded as `cli:<login>` in the compliance role."""
    return Actor(subject=f"cli:{getpass.getuser()}", role=Role.compliance,
                 request_id=f"cli-{uuid4()}", purpose=PurposeOfUse.compliance.value)


def print_state(args: argparse.Namespace) -> int:
    as_of = args.as_of if args.as_of.tzinfo else args.as_of.replace(tzinfo=UTC)
    with use_cases() as run:
        past = run.audit.state_at(args.aggregate, as_of, officer(), show_phi_for=args.purpose,
                                  door="CLI clinic audit state")
    print(json.dumps(asdict(past), indent=2, default=str))
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
