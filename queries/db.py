"""The one way queries read rows: a pooled connection, dict rows."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


def fetch_all(pool: ConnectionPool, query: str, params: Any = None) -> list[dict[str, Any]]:
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params, prepare=True)
        return cur.fetchall()
