"""API workers and projectors start together and each creates the read models' tables:
that DDL runs one process at a time (an advisory lock), so simultaneous starts never
deadlock on PostgreSQL's table locks (seen as a failed `clinic serve --workers 2`)."""

from __future__ import annotations

import threading
import uuid

import psycopg
from psycopg import sql

from infra.postgres.read_models import create_read_model_tables
from infra.postgres.tables import ensure_schema
from infra.wiring.container import Container


def test_read_model_tables_created_by_many_at_once(container: Container) -> None:
    url = container.settings.database_url
    assert url
    for _round in range(3):
        schema = f"ddl_{uuid.uuid4().hex[:8]}"
        ensure_schema(url, schema)
        barrier, failures = threading.Barrier(4), list[Exception]()

        threads = [threading.Thread(target=_start, args=(url, schema, barrier, failures))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with psycopg.connect(url, autocommit=True) as conn:
            for dropped in (schema, f"{schema}_analytics"):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(dropped)))
        assert failures == []


def _start(url: str, schema: str, barrier: threading.Barrier,
           failures: list[Exception]) -> None:
    barrier.wait()
    try:
        create_read_model_tables(url, schema)
    except Exception as exc:  # reported with the others
        failures.append(exc)
