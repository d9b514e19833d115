"""Recompute the event log's Merkle tree from the stored events and check it against the
recorded leaves, the stored signed checkpoints and an exported checkpoint kept elsewhere.

Streams both tables in order through server-side cursors: memory stays bounded (the tree's
frontier is log2 of the size). The first position that fails is reported; nothing after it
is trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

import psycopg
from psycopg import sql

from infra.crypto.checkpoints import Checkpoint, InvalidCheckpointError, open_checkpoint
from projections.merkle import Frontier, leaf_hash

BATCH = 5000


@dataclass
class Verification:
    events: int = 0  # events read
    covered: int = 0  # of them, leaves of the tree (the rest came after the follower)
    checkpoints: int = 0  # signed checkpoints whose roots were recomputed and matched
    failure: str | None = None
    position: int | None = None  # the first tree position (1-based) that fails
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def fail(self, position: int | None, reason: str) -> Verification:
        self.position, self.failure = position, reason
        return self


def verify_log(database_url: str, schema: str, verifier_keys: Sequence[str], *,
               exported: str | None = None, first: int = 1, last: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> Verification:
    """Check positions `first`..`last` (1-based, inclusive) of the tree against the events;
    a checkpoint holds if signed by any of `verifier_keys` (the current and earlier keys)."""
    result = Verification()
    with psycopg.connect(database_url) as conn:
        stored = _checkpoints(conn, schema, verifier_keys, result)
        if not result.ok:
            return result
        outside = _exported(exported, verifier_keys, result)
        if not result.ok:
            return result
        total = _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(schema, "clinic_events")))
        frontier = Frontier()
        events, leaves = _stream(conn, schema, "clinic_events"), _stream(conn, schema,
                                                                         "audit_leaves")
        for position, (event, row) in enumerate(zip_longest(events, leaves), start=1):
            if last is not None and position > last:
                break
            if event is None:
                return result.fail(position, f"the log ends after {position - 1} events but "
                                   "the tree covers more: events were deleted")
            result.events += 1
            leaf = leaf_hash(event["notification_id"], event["originator_id"],
                             event["originator_version"], event["topic"], bytes(event["state"]))
            if row is None:
                continue  # after the follower's position: not yet in the tree
            result.covered += 1
            if position >= first and (row["notification_id"] != event["notification_id"]
                                      or bytes(row["leaf"]) != leaf):
                return result.fail(position, f"position {position} (notification id "
                                   f"{event['notification_id']}) is not the event the tree "
                                   "recorded there: edited, inserted, deleted or moved")
            frontier.append(leaf)
            for checkpoint, where in ((stored.get(position), "stored"),
                                      (outside if outside and outside.size == position else None,
                                       "exported")):
                if checkpoint is None:
                    continue
                if checkpoint.root != frontier.root():
                    return result.fail(position, f"the {where} checkpoint of size {position} "
                                       "does not match the events up to it")
                result.checkpoints += 1
            if progress and position % BATCH == 0:
                progress(position, total)
        if outside is not None and outside.size > result.covered and \
                (last is None or outside.size <= last):
            return result.fail(result.covered + 1, f"the exported checkpoint covers "
                               f"{outside.size} events, the log only {result.covered}: "
                               "its tail was truncated")
        if result.events > result.covered:
            result.notes.append(f"{result.events - result.covered} newest events are not yet "
                                "in the tree (the audit_log follower is behind)")
    return result


def _checkpoints(conn: psycopg.Connection[Any], schema: str, verifier_keys: Sequence[str],
                 result: Verification) -> dict[int, Checkpoint]:
    """Every stored checkpoint, each signature checked."""
    rows = conn.execute(sql.SQL("SELECT size, root, note FROM {} ORDER BY size").format(
        sql.Identifier(schema, "audit_checkpoints"))).fetchall()
    checkpoints: dict[int, Checkpoint] = {}
    for size, root, note in rows:
        try:
            opened = open_checkpoint(note, *verifier_keys)
        except InvalidCheckpointError as exc:
            result.fail(size, f"the stored checkpoint of size {size} is forged: {exc}")
            return {}
        if opened.size != size or opened.root != bytes(root):
            result.fail(size, f"the stored checkpoint of size {size} says otherwise "
                        "in its signed note")
            return {}
        checkpoints[size] = opened
    return checkpoints


def _exported(note: str | None, verifier_keys: Sequence[str], result: Verification
              ) -> Checkpoint | None:
    if note is None:
        return None
    try:
        return open_checkpoint(note, *verifier_keys)
    except InvalidCheckpointError as exc:
        result.fail(None, f"the exported checkpoint is forged or not ours: {exc}")
        return None


def _stream(conn: psycopg.Connection[Any], schema: str, table: str
            ) -> Iterator[dict[str, Any]]:
    order = "notification_id" if table == "clinic_events" else "tree_index"
    with conn.cursor(name=f"audit_{table}", row_factory=psycopg.rows.dict_row) as curs:
        curs.itersize = BATCH
        curs.execute(sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(schema, table), sql.Identifier(order)))
        yield from curs


def _scalar(conn: psycopg.Connection[Any], query: sql.Composed) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0
