"""The eventsourcing Application round-trips through the real PostgreSQL server."""

import psycopg
import pytest

from commands.application import ClinicApplication
from domain.errors import NotFoundError
from infra.container import Container
from infra.eventstore import eventsourcing_env


def test_aggregate_round_trip_on_real_postgres(container: Container) -> None:
    app = container.app
    smoke_id = app.start_smoke("hello")
    assert app.ping_smoke(smoke_id) == 1
    assert app.ping_smoke(smoke_id) == 2

    settings = container.settings
    assert settings.database_url
    fresh = ClinicApplication(env=eventsourcing_env(settings.database_url, settings.db_schema))
    try:
        assert fresh.repository.get(smoke_id).pings == 2
    finally:
        fresh.close()

    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            f'SELECT count(*) FROM "{settings.db_schema}".clinic_events '
            "WHERE originator_id = %s", (smoke_id,)
        ).fetchone()
    assert rows == (3,)


def test_unknown_aggregate_is_a_domain_not_found(container: Container) -> None:
    import uuid

    with pytest.raises(NotFoundError):
        container.app.ping_smoke(uuid.uuid4())


def test_database_url_becomes_eventsourcing_environment() -> None:
    env = eventsourcing_env("postgresql://u%40x:p%3Aw@db.local:6543/clinic", "s1")
    assert env["POSTGRES_USER"] == "u@x"
    assert env["POSTGRES_PASSWORD"] == "p:w"
    assert env["POSTGRES_HOST"] == "db.local"
    assert env["POSTGRES_PORT"] == "6543"
    assert env["POSTGRES_DBNAME"] == "clinic"
    assert env["POSTGRES_SCHEMA"] == "s1"
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "no"
    with pytest.raises(ValueError):
        eventsourcing_env("mysql://x/y")
