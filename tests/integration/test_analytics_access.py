"""`clinic analytics grant`: the login it creates reads the v1 analytics views and is refused
everything else — the tables beneath them, the event store, the PHI data keys, the patient-key
map, the API's read models, the tracking tables and any other schema."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from infra.postgres.analytics import VIEWS, analytics_schema
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.driver import drive
from tests.integration.analytics_script import analytics_model, clinic, play

DOCS = Path(__file__).parents[2] / "docs" / "read-models.md"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def analyst(container: Container) -> Iterator[str]:
    role = f"analyst_{container.settings.db_schema}"
    yield role
    with psycopg.connect(str(container.settings.database_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(
                sql.Identifier(role)))


def grant(container: Container, role: str, **env: str) -> subprocess.CompletedProcess[str]:
    return clinic(container, "analytics", "grant", "--role", role, **env)


def test_the_analyst_reads_the_views_and_nothing_else(container: Container,
                                                      analyst: str) -> None:
    play(drive(container))
    model = analytics_model(container)
    try:
        CatchUpRunner(container.app, model).catch_up()
    finally:
        model.datastore.close()
    granted = grant(container, analyst, CLINIC_ANALYTICS_PASSWORD=PASSWORD)
    assert granted.returncode == 0, granted.stderr
    schema, analytics = container.settings.db_schema, analytics_schema(
        container.settings.db_schema)
    with psycopg.connect(str(container.settings.database_url), autocommit=True) as owner:
        owner.execute(sql.SQL("CREATE SCHEMA {0}; CREATE TABLE {0}.t (x int)").format(
            sql.Identifier(analytics + "_other")))
    url = psycopg.conninfo.make_conninfo(str(container.settings.database_url), user=analyst,
                                         password=PASSWORD)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (analyst,)
            counts = {v: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(analytics, v))).fetchone() for v in VIEWS}
            assert counts.pop("v1_daily_capacity")[0] >= 2 * 365  # two schedules, a year
            # Every hour of a year of all-day hours but the skipped spring hour, two clinics.
            assert counts.pop("v1_slots_offered")[0] >= 2 * 365 * 24 - 2
            assert counts == {"v1_appointment_facts": (7,), "v1_daily_utilization": (6,),
                              "v1_slot_supply": (6,)}
            search_path, *questions = documented_questions(analytics)
            conn.execute(search_path)
            # weekday x lead time of the two visits due; nothing last week (the script is in
            # March 2027); one service; two clinic-months; six hours; every hour of the day
            # in the next four weeks (the hours were published today, all day).
            assert [len(conn.execute(q).fetchall()) for q in questions] == [2, 0, 1, 2, 6, 24]
            refused = [(analytics, t) for t in ("appointment_facts", "daily_utilization",
                                                "slot_supply", "freed_times", "clinics",
                                                "daily_capacity", "schedules", "rolled",
                                                "hourly_offer", "services", "providers")]
            refused += [(schema, t) for t in (
                "clinic_events", "clinic_snapshots", "phi_data_keys", "analytics_patient_keys",
                "analytics_tracking", "appointments", "patients", "open_slots",
                "timeline_events", "audit_events")]
            refused += [(analytics + "_other", "t")]
            for where in refused:
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(
                        sql.Identifier(*where)))
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(
                    sql.Identifier(analytics, "mine")))
    finally:
        with psycopg.connect(str(container.settings.database_url), autocommit=True) as owner:
            owner.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(
                sql.Identifier(analytics + "_other")))


def test_grant_refuses_the_clinics_own_role_and_wants_a_password(container: Container,
                                                                  analyst: str) -> None:
    with psycopg.connect(str(container.settings.database_url)) as conn:
        owner = conn.execute("SELECT current_user").fetchone()
    assert owner is not None
    refused = grant(container, owner[0], CLINIC_ANALYTICS_PASSWORD=PASSWORD)
    assert refused.returncode == 2 and "privileged role" in refused.stderr
    unasked = grant(container, analyst)
    assert unasked.returncode == 2 and "--password-file" in unasked.stderr
    assert grant(container, "Robert'); DROP", CLINIC_ANALYTICS_PASSWORD=PASSWORD).returncode == 2


def documented_questions(analytics: str) -> list[str]:
    """The questions' SQL in docs/read-models.md, on this test's analytics schema."""
    block = DOCS.read_text().split("### Six questions")[1].split("```sql")[1].split("```")[0]
    statements = [q.strip() for q in block.split(";") if q.strip()]
    assert statements[0] == "SET search_path = analytics"
    return [f'SET search_path = "{analytics}"', *statements[1:]]
