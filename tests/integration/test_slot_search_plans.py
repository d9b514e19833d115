"""Slot searches keep one generic plan per statement instead of being planned on every call
(queries/db.py; docs/performance.md: planning cost more than running the search)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from infra.postgres.read_models import create_read_model_tables
from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from queries.db import read_pool
from queries.slots import SlotSearch, search_slots

pytestmark = pytest.mark.integration


async def _plans_after_searches(settings: Settings) -> list[tuple[int, int]]:
    assert settings.database_url
    pool = read_pool(settings.database_url, settings.db_schema, max_size=1, generic_plans=True)
    await pool.open()
    try:
        start = datetime.now(UTC) + timedelta(days=2)
        for n in range(12):  # past the 5 custom plans PostgreSQL's `auto` mode starts with
            await search_slots(pool, SlotSearch(start_from=start + timedelta(hours=n),
                                                start_to=start + timedelta(days=14), limit=20))
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%FROM open_slots%'")
            return [(int(g), int(c)) for g, c in await cur.fetchall()]
    finally:
        await pool.close()


def test_the_search_pool_plans_each_search_once(settings: Settings) -> None:
    assert settings.database_url
    ensure_schema(settings.database_url, settings.db_schema)
    create_read_model_tables(settings.database_url, settings.db_schema)
    plans = asyncio.run(_plans_after_searches(settings))
    assert plans, "the search was not a prepared statement"
    assert all(custom == 0 and generic >= 12 for generic, custom in plans), plans
