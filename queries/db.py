"""The one way queries read rows: an async pooled autocommit connection, dict rows."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

ReadPool = AsyncConnectionPool


def read_pool(database_url: str, schema: str, max_size: int = 10) -> ReadPool:
    """Autocommit (no COMMIT round trip per query); open it inside the event loop."""

    async def configure(conn: AsyncConnection[Any]) -> None:
        await conn.set_autocommit(True)

    return AsyncConnectionPool(database_url, min_size=2, max_size=max_size, open=False,
                               configure=configure, name="queries",
                               kwargs={"options": f"-c search_path={schema}"})


async def fetch_all(pool: ReadPool, query: str, params: Any = None) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params, prepare=True)
        return await cur.fetchall()
