"""`clinic audit export`: the event log's changes and the access records of a time window,
streamed (bounded memory) as jsonl, csv or FHIR AuditEvents, with a proof beside the file
that a third party checks offline against a signed checkpoint (docs/compliance.md).

The proof: the checkpoint covering the exported range (the smallest signed tree that holds
it), and the hashes of the subtrees outside the range (projections/merkle.py:
outside_spans): with the exported events' leaves they give the signed root.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from uuid import NAMESPACE_URL, uuid5

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from infra.fhir.audit_events import access_event, change_event
from projections.merkle import Frontier, outside_spans

FORMATS = ("jsonl", "csv", "fhir", "fhir-bundle")
BATCH = 2000
PROOF_FORMAT = "clinic-audit-export-proof/v1"
CHANGE_COLUMNS = ("kind", "tree_index", "position", "recorded_at", "record_id", "version",
                  "event", "actor", "role", "purpose", "reason", "request_id", "summary",
                  "patient_id", "topic", "stored", "leaf")
ACCESS_COLUMNS = ("kind", "audit_id", "recorded_at", "actor", "role", "action", "resource",
                  "patient_id", "record_id", "purpose", "outcome", "status", "detail",
                  "request_id")
CSV_COLUMNS = tuple(dict.fromkeys(CHANGE_COLUMNS + ACCESS_COLUMNS))


class ExportError(Exception):
    pass


@dataclass(frozen=True)
class Plan:
    first: int | None  # the first and last tree index (1-based) exported; None: no events
    last: int | None
    size: int  # the covering checkpoint's tree size
    checkpoint: str  # its signed note
    left_out: int  # events of the window not yet under a signed checkpoint


@dataclass(frozen=True)
class Exported:
    changes: int
    accesses: int
    plan: Plan
    proof: Path | None


def export(database_url: str, schema: str, since: datetime, until: datetime, fmt: str,
           out: Path, *, site: str, progress: Callable[[int, int], None] | None = None
           ) -> Exported:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    with psycopg.connect(database_url) as conn:
        plan = _plan(conn, schema, since, until)
        total = (plan.last - plan.first + 1) if plan.first and plan.last else 0
        with out.open("w", newline="") as stream:
            writer = _Writer(fmt, stream, site)
            changes = 0
            for row in _changes(conn, schema, plan):
                writer.write(row)
                changes += 1
                if progress and changes % BATCH == 0:
                    progress(changes, total)
            accesses = 0
            for row in _accesses(conn, schema, since, until):
                writer.write(row)
                accesses += 1
            writer.close()
        proof = None
        if plan.first is not None and plan.last is not None:
            proof = out.with_name(out.name + ".proof.json")
            proof.write_text(json.dumps(_proof(conn, schema, plan, since, until, changes,
                                               accesses), indent=2) + "\n")
    return Exported(changes, accesses, plan, proof)


def _plan(conn: psycopg.Connection[Any], schema: str, since: datetime, until: datetime
          ) -> Plan:
    s = sql.Identifier(schema)
    newest = conn.execute(sql.SQL(
        "SELECT size, note FROM {}.audit_checkpoints ORDER BY size DESC LIMIT 1").format(s)
    ).fetchone()
    if newest is None:
        raise ExportError("no signed checkpoint yet: the audit_log follower has signed none")
    window = conn.execute(sql.SQL(
        "SELECT min(l.tree_index), max(l.tree_index) FROM {s}.timeline_events e "
        "JOIN {s}.audit_leaves l ON l.notification_id = e.position "
        "WHERE e.recorded_at >= %s AND e.recorded_at < %s").format(s=s), (since, until)
    ).fetchone()
    first, last = window if window else (None, None)
    if first is None or last is None or first > newest[0]:
        left = 0 if last is None else last - first + 1
        return Plan(None, None, newest[0], newest[1], left)
    covering = conn.execute(sql.SQL(
        "SELECT size, note FROM {}.audit_checkpoints WHERE size >= %s ORDER BY size LIMIT 1"
    ).format(s), (last,)).fetchone() or newest
    exported_last = min(last, covering[0])
    return Plan(first, exported_last, covering[0], covering[1], last - exported_last)


def _changes(conn: psycopg.Connection[Any], schema: str, plan: Plan
             ) -> Iterator[dict[str, Any]]:
    if plan.first is None:
        return
    with conn.cursor(name="audit_export_changes", row_factory=dict_row) as curs:
        curs.itersize = BATCH
        curs.execute(sql.SQL(
            "SELECT l.tree_index, l.notification_id AS position, l.leaf, c.originator_id, "
            "c.originator_version, c.topic, c.state, e.recorded_at, e.event, e.actor, e.role, "
            "e.purpose, e.reason, e.request_id, e.summary, e.patient_id "
            "FROM {s}.audit_leaves l "
            "JOIN {s}.clinic_events c ON c.notification_id = l.notification_id "
            "JOIN {s}.timeline_events e ON e.position = l.notification_id "
            "WHERE l.tree_index BETWEEN %s AND %s ORDER BY l.tree_index"
        ).format(s=sql.Identifier(schema)), (plan.first, plan.last))
        expected = plan.first
        for row in curs:
            if row["tree_index"] != expected:
                raise ExportError(f"tree position {expected} has no event or timeline entry: "
                                  "run `clinic audit verify`, and let the followers catch up")
            expected += 1
            yield {"kind": "change", "tree_index": row["tree_index"],
                   "position": row["position"], "recorded_at": row["recorded_at"],
                   "record_id": str(row["originator_id"]),
                   "version": row["originator_version"], "event": row["event"],
                   "actor": row["actor"], "role": row["role"], "purpose": row["purpose"],
                   "reason": row["reason"], "request_id": row["request_id"],
                   "summary": row["summary"],
                   "patient_id": str(row["patient_id"]) if row["patient_id"] else None,
                   "topic": row["topic"], "stored": _b64(row["state"]),
                   "leaf": _b64(row["leaf"])}
        if expected != (plan.last or 0) + 1:
            raise ExportError(f"tree positions {expected}..{plan.last} are missing")


def _accesses(conn: psycopg.Connection[Any], schema: str, since: datetime, until: datetime
              ) -> Iterator[dict[str, Any]]:
    with conn.cursor(name="audit_export_access", row_factory=dict_row) as curs:
        curs.itersize = BATCH
        curs.execute(sql.SQL(
            "SELECT audit_id, recorded_at, actor, role, action, resource, patient_id, "
            "record_id, purpose, outcome, status, detail, request_id FROM {}.audit_events "
            "WHERE recorded_at >= %s AND recorded_at < %s ORDER BY audit_id"
        ).format(sql.Identifier(schema)), (since, until))
        for row in curs:
            yield {"kind": "access", **row,
                   "patient_id": str(row["patient_id"]) if row["patient_id"] else None}


def _proof(conn: psycopg.Connection[Any], schema: str, plan: Plan, since: datetime,
           until: datetime, changes: int, accesses: int) -> dict[str, Any]:
    assert plan.first is not None and plan.last is not None
    hashes = [_b64(_subtree(conn, schema, lo, hi))
              for lo, hi in outside_spans(plan.size, plan.first - 1, plan.last)]
    return {"format": PROOF_FORMAT, "since": since.isoformat(), "until": until.isoformat(),
            "changes": changes, "access_records": accesses, "size": plan.size,
            "first_tree_index": plan.first, "last_tree_index": plan.last,
            "hashes": hashes, "checkpoint": plan.checkpoint}


def _subtree(conn: psycopg.Connection[Any], schema: str, lo: int, hi: int) -> bytes:
    """The root of leaves [lo, hi) (0-based), streamed."""
    frontier = Frontier()
    with conn.cursor(name=f"audit_export_span_{lo}") as curs:
        curs.itersize = 10 * BATCH
        curs.execute(sql.SQL("SELECT leaf FROM {}.audit_leaves WHERE tree_index > %s AND "
                             "tree_index <= %s ORDER BY tree_index").format(
            sql.Identifier(schema)), (lo, hi))
        for (leaf,) in curs:
            frontier.append(bytes(leaf))
    if frontier.size != hi - lo:
        raise ExportError(f"the audit tree lacks leaves between {lo + 1} and {hi}")
    return frontier.root()


class _Writer:
    def __init__(self, fmt: str, stream: IO[str], site: str) -> None:
        self.fmt, self.stream, self.site, self.count = fmt, stream, site, 0
        if fmt == "csv":
            self.csv = csv.DictWriter(stream, CSV_COLUMNS, extrasaction="raise")
            self.csv.writeheader()
        elif fmt == "fhir-bundle":
            stream.write('{"resourceType": "Bundle", "type": "collection", "entry": [\n')

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "csv":
            self.csv.writerow({k: _text(v) for k, v in row.items()})
        elif self.fmt == "jsonl":
            self.stream.write(json.dumps(row, default=_text) + "\n")
        else:
            event = (change_event if row["kind"] == "change" else access_event)(row, self.site)
            if self.fmt == "fhir":
                self.stream.write(json.dumps(event) + "\n")
            else:
                entry = {"fullUrl": f"urn:uuid:{_uuid_of(event['id'])}", "resource": event}
                self.stream.write((",\n" if self.count else "") + json.dumps(entry))
        self.count += 1

    def close(self) -> None:
        if self.fmt == "fhir-bundle":
            self.stream.write("\n]}\n")


def _uuid_of(resource_id: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"urn:clinic:audit-event:{resource_id}"))


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def _b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode()

