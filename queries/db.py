"""The one way queries read rows: an async pooled autocommit connection, dict rows."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

ReadPool = AsyncConnectionPool


def read_pool(database_url: str, schema: str, max_size: int = 10, *,
              generic_plans: bool = False) -> ReadPool:
    """Autocommit (no COMMIT round trip per query); open it inside the event loop.

    `generic_plans`: prepared statements keep one plan instead of being planned again on
    every call. For slot search PostgreSQL's own choice (`auto`) re-planned the unfiltered
    and service searches each time, and planning their joins cost more than running them
    (docs/performance.md); every search's generic plan is the same index range scan."""

    async def configure(conn: AsyncConnection[Any]) -> None:
        await conn.set_autocommit(True)

    options = f"-c search_path={schema}"
    if generic_plans:
        options += " -c plan_cache_mode=force_generic_plan"
    return AsyncConnectionPool(database_url, min_size=min(2, max_size), max_size=max_size,
                               open=False, configure=configure,
                               name="slot-search" if generic_plans else "queries",
                               kwargs={"options": options})


async def fetch_all(pool: ReadPool, query: str, params: Any = None) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params, prepare=True)
        return await cur.fetchall()
