"""Our own tables beside eventsourcing's: the schema, idempotent DDL run one process at a
time, and a small pool per worker's tables."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

DDL_LOCK = 0x636C696E  # one advisory lock for our own schema changes ("clin")


def ensure_schema(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def run_ddl(conn: psycopg.Connection[Any], script: str) -> None:
    """Run idempotent DDL once at a time across processes: API workers start together, and
    concurrent CREATE OR REPLACE of one function or trigger deadlocks in PostgreSQL."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
        conn.execute(script.encode())  # several statements, no parameters


def table_pool(database_url: str, schema: str, ddl: str, max_size: int = 2
               ) -> ConnectionPool[Any]:
    """A small pool for a worker's own tables, created first (`{s}` in `ddl`: the schema)."""
    pool: ConnectionPool[Any] = ConnectionPool(database_url, min_size=1, max_size=max_size,
                                               open=True)
    with pool.connection() as conn:
        run_ddl(conn, ddl.format(s=f'"{schema}"'))
    return pool

