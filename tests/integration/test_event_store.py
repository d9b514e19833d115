"""The eventsourcing Application round-trips through the real PostgreSQL server."""

import psycopg
import pytest

from domain.clinics import Address, Clinic
from domain.errors import NotFoundError
from domain.modality import Modality
from infra.eventstore.application import build_application
from infra.eventstore.recorder import eventsourcing_env
from infra.wiring.container import Container
from tests.driver import drive


def test_aggregate_round_trip_on_real_postgres(container: Container) -> None:
    app = drive(container)
    clinic_id = app.register_clinic("Harbor", Address("1 Main", "Boston", "MA", "02110"),
                                    "America/New_York", [Modality.in_person])
    app.revise_clinic(clinic_id, "Harbor Street", Address("1 Main", "Boston", "MA", "02110"),
                      [Modality.in_person, Modality.telehealth])

    settings = container.settings
    assert settings.database_url
    fresh = build_application(settings)
    try:
        clinic = fresh.get(Clinic, clinic_id, "clinic")
        assert clinic.name == "Harbor Street"
        assert clinic.modalities == ["in_person", "telehealth"]
        assert clinic.version == 2
    finally:
        fresh.close()

    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            f'SELECT count(*) FROM "{settings.db_schema}".clinic_events '
            "WHERE originator_id = %s", (clinic_id,)
        ).fetchone()
    assert rows == (2,)


def test_unknown_aggregate_is_a_domain_not_found(container: Container) -> None:
    import uuid

    with pytest.raises(NotFoundError):
        drive(container).clinic(uuid.uuid4())


def test_concurrent_writers_of_one_aggregate_conflict(container: Container) -> None:
    from eventsourcing.persistence import IntegrityError

    app = drive(container)
    clinic_id = app.register_clinic("Harbor", Address("1 Main", "Boston", "MA", "02110"),
                                    "America/New_York", [Modality.in_person])
    first, second = app.clinic(clinic_id), app.clinic(clinic_id)
    first.revise("A", Address("1 Main", "Boston", "MA", "02110"), [Modality.in_person])
    second.revise("B", Address("1 Main", "Boston", "MA", "02110"), [Modality.in_person])
    app.save(first)
    with pytest.raises(IntegrityError):
        app.save(second)
    assert app.clinic(clinic_id).name == "A"


def test_database_url_becomes_eventsourcing_environment() -> None:
    env = eventsourcing_env("postgresql://u%40x:p%3Aw@db.local:6543/clinic", "s1")
    assert env["POSTGRES_USER"] == "u@x"
    assert env["POSTGRES_PASSWORD"] == "p:w"
    assert env["POSTGRES_HOST"] == "db.local"
    assert env["POSTGRES_PORT"] == "6543"
    assert env["POSTGRES_DBNAME"] == "clinic"
    assert env["POSTGRES_SCHEMA"] == "s1"
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "yes"  # our function keeps the lock (0023)
    with pytest.raises(ValueError):
        eventsourcing_env("mysql://x/y")


def test_several_aggregates_read_in_one_query_match_one_by_one(container: Container) -> None:
    """The booking path's batched read (commands/base.py) gives the same aggregates as
    eventsourcing's repository, skips ids with no events, and opens PHI as the repository
    does."""
    import uuid
    from datetime import date

    from commands.ports import ReadsManyStreams
    from domain.consent import POLICIES, Consent, Purpose

    app = drive(container)
    assert isinstance(app.recorder, ReadsManyStreams)
    clinic_id = app.register_clinic("Harbor", Address("1 Main", "Boston", "MA", "02110"),
                                    "America/New_York", [Modality.in_person])
    app.revise_clinic(clinic_id, "Harbor Street", Address("1 Main", "Boston", "MA", "02110"),
                      [Modality.in_person])
    patient_id, _ = app.register_patient("Ana", "Lima", date(1990, 1, 2), "ana@example.org",
                                         None)
    app.grant_consent(patient_id, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    consent_id = Consent.create_id(patient_id, Purpose.treatment.value)
    missing = uuid.uuid4()

    loaded = app.get_many(clinic_id, patient_id, consent_id, missing)

    assert set(loaded) == {clinic_id, patient_id, consent_id}
    for aggregate_id in (clinic_id, patient_id, consent_id):
        one = app.repository.get(aggregate_id)
        assert type(loaded[aggregate_id]) is type(one)
        assert loaded[aggregate_id].version == one.version
        assert vars(loaded[aggregate_id]) == vars(one)
    assert loaded[patient_id].given_name == "Ana"  # PHI opened, as the repository does
    assert loaded[clinic_id].name == "Harbor Street"
