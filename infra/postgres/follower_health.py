"""Which log followers are stuck on an event, where, and why: written by the follower
(projections/runner.py), read by /readyz, `clinic projections status` and the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from infra.postgres.tables import table_pool

DDL = """
CREATE TABLE IF NOT EXISTS {s}.follower_failures (
    follower text PRIMARY KEY, position bigint NOT NULL, error text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(), last_at timestamptz NOT NULL DEFAULT now(),
    attempts int NOT NULL DEFAULT 1)
"""


@dataclass(frozen=True)
class FollowerFailure:
    follower: str
    position: int  # the notification id of the event it cannot apply
    error: str
    since: datetime
    last_at: datetime
    attempts: int


class PostgresFollowerHealth:
    """FollowerHealth (projections/ports.py) in a table of the clinic's schema."""

    def __init__(self, database_url: str, schema: str) -> None:
        self.s = f'"{schema}"'
        self.pool = table_pool(database_url, schema, DDL, max_size=1)

    def failing(self, follower: str, position: int, error: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {self.s}.follower_failures (follower, position, error) "
                "VALUES (%s, %s, %s) ON CONFLICT (follower) DO UPDATE SET "
                "since = CASE WHEN follower_failures.position = excluded.position "
                "THEN follower_failures.since ELSE now() END, "
                "attempts = CASE WHEN follower_failures.position = excluded.position "
                "THEN follower_failures.attempts + 1 ELSE 1 END, "
                "position = excluded.position, error = excluded.error, last_at = now()",
                (follower, position, error))

    def recovered(self, follower: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(f"DELETE FROM {self.s}.follower_failures WHERE follower = %s",
                         (follower,))

    def close(self) -> None:
        self.pool.close()


def current_failures(conn: psycopg.Connection[Any], schema: str) -> list[FollowerFailure]:
    """Every follower stuck now (none if no follower ever failed here)."""
    with conn.cursor() as curs:
        if curs.execute("SELECT to_regclass(%s)",
                        (f'"{schema}".follower_failures',)).fetchone() == (None,):
            return []
        rows = curs.execute(sql.SQL(
            "SELECT follower, position, error, since, last_at, attempts FROM {} "
            "ORDER BY follower").format(sql.Identifier(schema, "follower_failures"))).fetchall()
    return [FollowerFailure(*row) for row in rows]
