"""The event log's Merkle tree and its signed checkpoints, kept by an exactly-once follower.

Each stored event record, in notification order, becomes a leaf (projections/merkle.py); the
leaves, the tree's frontier and the tracking position are written in one transaction. Every
`every_events` events, or `every_seconds` after the last checkpoint when more events came, a
checkpoint of the tree (size, root) is signed (infra/crypto/checkpoints.py) and stored, to be
exported and kept elsewhere. `clinic audit verify` recomputes all of it from the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from psycopg import Cursor, sql
from psycopg.rows import DictRow

from infra.crypto.audit_keys import AuditSigner
from infra.crypto.checkpoints import Checkpoint, sign_checkpoint
from infra.postgres.read_model import TrackedReadModel
from projections.merkle import Frontier, leaf_hash

DDL = """
CREATE TABLE IF NOT EXISTS {s}.audit_leaves (
    tree_index bigint PRIMARY KEY, notification_id bigint NOT NULL, leaf bytea NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.audit_frontier (
    id int PRIMARY KEY DEFAULT 1 CHECK (id = 1), size bigint NOT NULL, nodes bytea[] NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.audit_checkpoints (
    size bigint PRIMARY KEY, root bytea NOT NULL, note text NOT NULL,
    created_at timestamptz NOT NULL)
"""


@dataclass(frozen=True)
class AuditConfig:
    signer: AuditSigner
    origin: str
    every_events: int = 1000
    every_seconds: float = 60.0


class AuditLogReadModel(TrackedReadModel):
    name = "audit_log"
    DDL = DDL
    TABLES = ("audit_leaves", "audit_frontier")  # checkpoints are evidence: never truncated
    wants_records: ClassVar[bool] = True  # the stored records, not domain events
    config: AuditConfig | None = None

    def apply(self, curs: Cursor[DictRow], events: Sequence[Any], now: datetime) -> None:
        frontier = self._frontier(curs)
        rows = []
        for record in events:
            leaf = leaf_hash(record.id, record.originator_id, record.originator_version,
                             record.topic, bytes(record.state))
            frontier.append(leaf)
            rows.append((frontier.size, record.id, leaf))
        curs.executemany(sql.SQL("INSERT INTO {}.audit_leaves VALUES (%s, %s, %s)").format(
            sql.SQL(self.schema)), rows)
        self._save(curs, frontier)
        self._maybe_checkpoint(curs, frontier, now)

    def tick(self) -> None:
        """Sign a checkpoint when the tree grew and the interval passed, even if idle."""
        with self.datastore.transaction(commit=True) as curs:
            self._maybe_checkpoint(curs, self._frontier(curs), self.clock())

    def _frontier(self, curs: Cursor[DictRow]) -> Frontier:
        curs.execute(sql.SQL("SELECT size, nodes FROM {}.audit_frontier").format(
            sql.SQL(self.schema)))
        row = curs.fetchone()
        return Frontier(row["size"], [bytes(n) for n in row["nodes"]]) if row else Frontier()

    def _save(self, curs: Cursor[DictRow], frontier: Frontier) -> None:
        curs.execute(sql.SQL(
            "INSERT INTO {}.audit_frontier (id, size, nodes) VALUES (1, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, nodes = EXCLUDED.nodes"
        ).format(sql.SQL(self.schema)), (frontier.size, frontier.nodes))

    def _maybe_checkpoint(self, curs: Cursor[DictRow], frontier: Frontier,
                          now: datetime) -> None:
        if self.config is None or frontier.size == 0:
            return
        curs.execute(sql.SQL("SELECT size, created_at FROM {}.audit_checkpoints "
                             "ORDER BY size DESC LIMIT 1").format(sql.SQL(self.schema)))
        last = curs.fetchone()
        if last is not None and last["size"] >= frontier.size:
            return
        due = last is None or frontier.size - last["size"] >= self.config.every_events or \
            now - last["created_at"] >= timedelta(seconds=self.config.every_seconds)
        if not due:
            return
        checkpoint = Checkpoint(self.config.origin, frontier.size, frontier.root())
        curs.execute(sql.SQL("INSERT INTO {}.audit_checkpoints VALUES (%s, %s, %s, %s) "
                             "ON CONFLICT (size) DO NOTHING").format(sql.SQL(self.schema)),
                     (checkpoint.size, checkpoint.root,
                      sign_checkpoint(self.config.signer, checkpoint), now))

