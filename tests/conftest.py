"""Test harness: real servers per session, a fresh schema and Redis database per test.

Tests in tests/unit get the `unit` marker, tests/integration `integration`, tests/e2e `e2e`.
A test that needs a server never skips: a missing prerequisite fails it with what to install.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from domain.access import Role
from infra.embedded.kafka import EmbeddedKafka
from infra.embedded.postgres import EmbeddedPostgres
from infra.embedded.process import free_port
from infra.embedded.redis import EmbeddedRedis
from infra.http.app import create_app
from infra.settings import Settings
from infra.wiring.container import Container
from tests.harness.servers import kafka_server, postgres_server, redis_server, until_ready
from tests.harness.smtp import SmtpServer, smtp_server

TEST_DATABASE = "clinic_test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for kind in ("unit", "integration", "e2e", "load"):
            if kind in parts:
                item.add_marker(kind if kind != "load" else "integration")


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    with postgres_server() as pg:
        pg.create_database(TEST_DATABASE)
        yield pg


@pytest.fixture(scope="session")
def redis_srv() -> Iterator[EmbeddedRedis]:
    with redis_server() as rd:
        yield rd


@pytest.fixture(scope="session")
def kafka() -> Iterator[EmbeddedKafka]:
    try:
        with kafka_server() as broker:
            yield broker
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback, keeping what it receives."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def schema(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A schema of its own for each test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres.url(TEST_DATABASE)
    yield name
    with psycopg.connect(url, autocommit=True) as conn:
        for dropped in (name, f"{name}_analytics"):  # infra/postgres/analytics.py
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(dropped)))


@pytest.fixture
def settings(postgres: EmbeddedPostgres, redis_srv: EmbeddedRedis, schema: str,
             tmp_path: Path) -> Settings:
    import redis

    redis.Redis.from_url(redis_srv.url).flushdb()
    return Settings(
        database_url=postgres.url(TEST_DATABASE),
        redis_url=redis_srv.url,
        data_dir=tmp_path / "data",
        db_schema=schema,
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    from tests.delivery import stop_delivery

    built = Container.build(settings)
    yield built
    stop_delivery(built)
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def token_for(container: Container):  # type: ignore[no-untyped-def]
    """token_for(role, subject, clinics=[...]) -> an Authorization header dict."""

    def make(role: Role, subject: str = "tester", ttl: int = 600,
             clinics: list[Any] | None = None) -> dict[str, str]:
        if role is Role.patient:  # patients' tokens belong to a live session
            return {"Authorization": f"Bearer {container.sessions.sign_in(subject).access_token}"}
        token = container.tokens.issue(role, subject, ttl, clinics=clinics)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def project(container: Container):  # type: ignore[no-untyped-def]
    """project() applies every recorded event to every read model (real clock)."""
    from infra.postgres.read_models import READ_MODELS, read_model
    from projections.runner import CatchUpRunner

    settings = container.settings
    assert settings.database_url
    models = [read_model(n, settings.database_url, settings.db_schema, phi=container.phi)
              for n in READ_MODELS]
    runners = [CatchUpRunner(container.app, m) for m in models]

    def catch_up() -> int:
        return max(runner.catch_up() for runner in runners)

    yield catch_up
    for model in models:
        model.datastore.close()


@pytest.fixture
def api(settings: Settings, container: Container) -> Iterator[str]:
    """`clinic serve` (two workers, no followers) on the test's servers; its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": str(settings.database_url),
            "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema,
            "CLINIC_DATA_DIR": str(settings.data_dir), "CLINIC_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "infra.cli.main", "serve", "--port",
                             str(port), "--workers", "2", "--no-projectors"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        until_ready(base)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        _, errors = proc.communicate(timeout=30)
        if errors:  # a failed race shows the server's own account of it
            sys.stderr.write(errors.decode(errors="replace")[-20_000:])
