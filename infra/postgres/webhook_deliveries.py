"""The webhook delivery log: one row per (message, subscription), created once however often
Kafka hands the message over, and every attempt made for it (time, HTTP status or error, a
short excerpt of the answer). Ids, the PHI-free body and outcomes only.

A delivery is `pending` (with when to try next), `delivered`, `dead` (every attempt failed:
the dead letter, until an admin asks for it again) or `cancelled` (its subscription was
disabled before it went out). Due deliveries are claimed with FOR UPDATE SKIP LOCKED and a
lease (the next attempt time moved forward), so two dispatchers never send one at once and a
dispatcher that dies mid-attempt leaves it to be tried again once the lease is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from infra.postgres.tables import run_ddl

DELIVERY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:webhook-delivery")
EXCERPT_CHARS = 200

DDL = """
CREATE TABLE IF NOT EXISTS {s}.webhook_deliveries (
    delivery_id uuid PRIMARY KEY,
    message_id uuid NOT NULL,
    subscription_id uuid NOT NULL,
    message_type text NOT NULL,
    body text NOT NULL,
    status text NOT NULL,
    attempts int NOT NULL DEFAULT 0,
    round_start int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    last_status int,
    last_error text NOT NULL DEFAULT '',
    requeued_by text,
    UNIQUE (message_id, subscription_id));
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON {s}.webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_listed
    ON {s}.webhook_deliveries (status, created_at DESC);
CREATE TABLE IF NOT EXISTS {s}.webhook_attempts (
    delivery_id uuid NOT NULL REFERENCES {s}.webhook_deliveries ON DELETE CASCADE,
    attempt int NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    http_status int,
    error text NOT NULL DEFAULT '',
    excerpt text NOT NULL DEFAULT '',
    duration_ms int NOT NULL,
    PRIMARY KEY (delivery_id, attempt));
"""


def delivery_id(message_id: UUID, subscription_id: UUID) -> UUID:
    return uuid5(DELIVERY_NAMESPACE, f"{message_id}/{subscription_id}")


@dataclass(frozen=True)
class Due:
    delivery_id: UUID
    message_id: UUID
    subscription_id: UUID
    message_type: str
    body: bytes
    attempt: int  # the number of the attempt about to be made, in this round


@dataclass(frozen=True)
class Attempt:
    http_status: int | None
    error: str
    excerpt: str
    duration_ms: int


class PostgresWebhookDeliveries:
    """The log; `pool` autocommit or not (each method is one transaction)."""

    def __init__(self, pool: ConnectionPool[Any], schema: str) -> None:
        self.pool, self.s = pool, f'"{schema}"'
        with pool.connection() as conn:
            run_ddl(conn, DDL.format(s=self.s))

    def record(self, message_id: UUID, subscription_id: UUID, message_type: str,
               body: bytes) -> bool:
        """A delivery to make now; False if it was recorded before (a message seen again)."""
        with self.pool.connection() as conn:
            inserted = conn.execute(
                f"INSERT INTO {self.s}.webhook_deliveries (delivery_id, message_id, "
                "subscription_id, message_type, body, status, next_attempt_at) "
                "VALUES (%s, %s, %s, %s, %s, 'pending', now()) ON CONFLICT DO NOTHING",
                (delivery_id(message_id, subscription_id), message_id, subscription_id,
                 message_type, body.decode())).rowcount
        return bool(inserted)

    def claim_due(self, limit: int, lease_seconds: float) -> list[Due]:
        with self.pool.connection() as conn, conn.transaction(), \
                conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"UPDATE {self.s}.webhook_deliveries SET next_attempt_at = now() + "
                "make_interval(secs => %s) WHERE delivery_id IN (SELECT delivery_id FROM "
                f"{self.s}.webhook_deliveries WHERE status = 'pending' AND next_attempt_at "
                "<= now() ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) "
                "RETURNING delivery_id, message_id, subscription_id, message_type, body, "
                "attempts - round_start + 1 AS attempt", (lease_seconds, limit))
            rows = cur.fetchall()
        return [Due(r["delivery_id"], r["message_id"], r["subscription_id"],
                    r["message_type"], r["body"].encode(), r["attempt"]) for r in rows]

    def attempted(self, due: Due, attempt: Attempt, retry_in: float | None,
                  delivered: bool) -> str:
        """Record the attempt and what follows: delivered, another try in `retry_in`
        seconds, or (None) dead. Returns the delivery's status."""
        status = "delivered" if delivered else "pending" if retry_in is not None else "dead"
        with self.pool.connection() as conn, conn.transaction():
            number = conn.execute(
                f"UPDATE {self.s}.webhook_deliveries SET attempts = attempts + 1, status = %s, "
                "next_attempt_at = CASE WHEN %s = 'pending' THEN now() + "
                "make_interval(secs => %s) END, finished_at = CASE WHEN %s = 'pending' THEN "
                "NULL ELSE now() END, last_status = %s, last_error = %s "
                "WHERE delivery_id = %s RETURNING attempts",
                (status, status, retry_in or 0.0, status, attempt.http_status,
                 attempt.error[:EXCERPT_CHARS], due.delivery_id)).fetchone()
            if number is not None:
                conn.execute(
                    f"INSERT INTO {self.s}.webhook_attempts (delivery_id, attempt, http_status, "
                    "error, excerpt, duration_ms) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (due.delivery_id, number[0], attempt.http_status,
                     attempt.error[:EXCERPT_CHARS], attempt.excerpt[:EXCERPT_CHARS],
                     attempt.duration_ms))
        return status

    def cancel(self, due: Due) -> None:
        """Its subscription ended before it went out."""
        with self.pool.connection() as conn:
            conn.execute(f"UPDATE {self.s}.webhook_deliveries SET status = 'cancelled', "
                         "next_attempt_at = NULL, finished_at = now() WHERE delivery_id = %s "
                         "AND status = 'pending'", (due.delivery_id,))

    def redeliver(self, delivery: UUID, by: str) -> str | None:
        """Make a dead delivery pending again, with a fresh round of attempts. Returns the
        status it had (only `dead` changes), None if there is no such delivery."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(f"SELECT status FROM {self.s}.webhook_deliveries "
                               "WHERE delivery_id = %s FOR UPDATE", (delivery,)).fetchone()
            if row is None:
                return None
            if row[0] == "dead":
                conn.execute(f"UPDATE {self.s}.webhook_deliveries SET status = 'pending', "
                             "next_attempt_at = now(), finished_at = NULL, "
                             "round_start = attempts, requeued_by = %s WHERE delivery_id = %s",
                             (by, delivery))
        return str(row[0])

    def counts(self) -> dict[str, int]:
        with self.pool.connection() as conn:
            rows = conn.execute(f"SELECT status, count(*) FROM {self.s}.webhook_deliveries "
                                "GROUP BY status").fetchall()
        return {row[0]: row[1] for row in rows}
