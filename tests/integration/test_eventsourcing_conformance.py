"""eventsourcing's own test cases, run against what the project uses in place of the library's
parts: SingleTripRecorder (our insert function, select_events_of), LibpqPostgresFactory and
the environment eventsourcing_env builds (ClinicMapper included), the batched read of the
use cases and CatchUpRunner. Upgrading eventsourcing past the pin: run this file first
(docs/decisions/0032-upgrading-eventsourcing.md).

The library's test cases are inherited unchanged; only their set-up is ours (the harness's
server, a schema of its own per test), as the library's own tests/persistence_tests/
test_postgres.py and tests/application_tests/test_application_with_postgres.py set up theirs.
The library's modules are imported as modules: a TestCase class in this module's namespace
would be collected and run as it is (abstract, on no database).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from unittest import TestCase
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.tests import application as es_application
from eventsourcing.tests import persistence as es_persistence
from eventsourcing.utils import Environment
from psycopg import sql

from domain.clinics import Address, Clinic
from domain.modality import Modality
from infra.embedded.postgres import EmbeddedPostgres
from infra.eventstore.recorder import LibpqPostgresFactory, SingleTripRecorder, eventsourcing_env
from infra.postgres.tables import ensure_schema
from projections.runner import CatchUpRunner
from tests.conftest import TEST_DATABASE

FACTORY_TOPIC = f"{LibpqPostgresFactory.__module__}:{LibpqPostgresFactory.__name__}"


@pytest.fixture
def database(postgres: EmbeddedPostgres, schema: str) -> tuple[str, str]:
    """The harness's database URL and this test's schema, created."""
    url = postgres.url(TEST_DATABASE)
    ensure_schema(url, schema)
    return url, schema


class OnTheHarnessServer(TestCase):
    """A library test case on the harness's PostgreSQL, in the test's own schema (dropped
    afterwards by the `schema` fixture). pytest fills the fixture before setUp."""

    database_url: str
    db_schema: str

    @pytest.fixture(autouse=True)
    def _on_the_harness_server(self, database: tuple[str, str]) -> None:
        self.database_url, self.db_schema = database

    def clinic_env(self, pool_size: int = 10) -> dict[str, str]:
        """What production gives eventsourcing (infra/eventstore/application.py)."""
        return eventsourcing_env(self.database_url, self.db_schema, pool_size)


def within(seconds: float, test: Any) -> None:
    """Run `test` in a thread; its failure is ours, and so is its hanging."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            test()
        except BaseException as exc:  # re-raised below, in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{test.__name__} did not finish in {seconds} s")
    if failures:
        raise failures[0]


# --- The application recorder: eventsourcing's ApplicationRecorderTestCase ---------------


class SingleTripRecorderSetUp(OnTheHarnessServer):
    """The datastore and recorder our factory makes from our environment, with the pool the
    library's SetupPostgresDatastore uses (one connection; tests that need more resize it,
    as the library's TestPostgresApplicationRecorder does)."""

    originator_id_type = "uuid"

    def setUp(self) -> None:
        super().setUp()
        env = self.clinic_env(pool_size=1) | {
            "POSTGRES_MAX_OVERFLOW": "0",
            "ORIGINATOR_ID_TYPE": self.originator_id_type,
        }
        self.factory = LibpqPostgresFactory(Environment("clinic", env))
        self.datastore = self.factory.datastore

    def tearDown(self) -> None:
        self.factory.close()
        super().tearDown()

    def create_recorder(self) -> SingleTripRecorder:
        recorder = self.factory.application_recorder()
        assert type(recorder) is SingleTripRecorder
        assert self.datastore.enable_db_functions  # as in production (decision 0023)
        return recorder

    def more_connections(self, size: int) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(size, size)


class TestSingleTripRecorder(
    SingleTripRecorderSetUp, es_persistence.ApplicationRecorderTestCase[SingleTripRecorder]
):
    # The library's subclass for PostgresApplicationRecorder opts into this "optional" test
    # and sizes the pool for the concurrent ones; so do we.
    def test_insert_subscribe(self) -> None:
        self.more_connections(2)  # LISTEN holds one
        # A subscription waits for a NOTIFY for ever: fail instead, if ours sends none.
        within(30, super().optional_test_insert_subscribe)

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.more_connections(12)
        super().test_concurrent_no_conflicts(initial_position)

    def test_concurrent_throughput(self) -> None:
        self.more_connections(10)
        super().test_concurrent_throughput()

    # What the library's test_postgres.py checks of its own insert, checked of ours.

    def test_insert_function_locks_the_table_and_gives_up_after_lock_timeout(self) -> None:
        """eventsourcing's own function takes no table lock (decision 0023); ours takes the
        EXCLUSIVE one, under the datastore's lock_timeout (the library's test_postgres.py
        checks that of its client-side insert)."""
        self.datastore.lock_timeout = 1
        recorder = self.create_recorder()
        table = sql.SQL("{}.{}").format(sql.Identifier(self.db_schema),
                                        sql.Identifier(recorder.events_table_name))
        events = [StoredEvent(self.new_originator_id(), 1, "topic1", b"state1")
                  for _ in range(2)]

        def columns(event: StoredEvent) -> tuple[list[Any], ...]:
            return [event.originator_id], [1], [event.topic], [event.state]

        with psycopg.connect(self.database_url) as one, \
                psycopg.connect(self.database_url, autocommit=True) as other:
            other.execute("SET statement_timeout = '4s'")  # should lock_timeout not work
            # Called inside a transaction, the function's lock outlives the call...
            one.execute(recorder.sql_invoke_pg_function_insert_events, columns(events[0]))
            # ...and shuts out every other writer: an INSERT's own lock would not.
            with pytest.raises(psycopg.errors.LockNotAvailable), other.transaction():
                other.execute(sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE NOWAIT")
                              .format(table))
            started = time.monotonic()
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(recorder.sql_invoke_pg_function_insert_events,
                              columns(events[1]))
            assert 0.9 < time.monotonic() - started < 4
            one.commit()
            other.execute(recorder.sql_invoke_pg_function_insert_events, columns(events[1]))
        assert [recorder.select_events(e.originator_id) for e in events] == [[e] for e in events]

    def test_insert_and_batched_read_retry_after_the_server_drops_the_connection(
        self,
    ) -> None:
        """Like eventsourcing's own reads and inserts (its test_retry_* tests), ours open a
        new connection when the server has closed the pooled one."""
        recorder = self.create_recorder()
        originator_id = self.new_originator_id()
        for version in (1, 2):
            self._drop_pooled_connection()
            recorder.insert_events([StoredEvent(originator_id, version, "topic", b"state")])
        self._drop_pooled_connection()
        assert [e.originator_version for e in recorder.select_events_of([originator_id])] \
            == [1, 2]

    def _drop_pooled_connection(self) -> None:
        with self.datastore.get_connection() as conn:
            pid = conn.info.backend_pid
        with psycopg.connect(self.database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert len(self.datastore.pool._pool) == 1
        assert not self.datastore.pool._pool[0].closed  # the pool does not know yet

    def test_select_events_of_reads_what_select_events_reads(self) -> None:
        """The batched read (decision 0027) against the library's one-aggregate read: every
        event of each id asked for, in version order, none of any other id."""
        recorder = self.create_recorder()
        ids = [self.new_originator_id() for _ in range(4)]
        other = self.new_originator_id()
        for n, originator_id in enumerate([*ids, other]):
            recorder.insert_events([
                StoredEvent(originator_id, self.INITIAL_VERSION + v, f"topic{v}",
                            f"{n}.{v}".encode()) for v in range(n + 1)])
        missing = self.new_originator_id()

        batched = recorder.select_events_of([*ids, missing])

        self.assertEqual(len(batched), sum(range(1, len(ids) + 1)))
        for originator_id in [*ids, missing]:
            self.assert_events_eq(
                [e for e in batched if e.originator_id == originator_id],
                recorder.select_events(originator_id))
        self.assertEqual(recorder.select_events_of([]), [])


class TestSingleTripRecorderWithTextOriginatorID(TestSingleTripRecorder):
    """The library runs its recorder tests with text ids too (our function is declared on
    the datastore's id type)."""

    originator_id_type = "text"

    def new_originator_id(self) -> str:
        return f"test-{uuid4()}"


class TestSingleTripRecorderNonInterleaving(
    SingleTripRecorderSetUp, es_persistence.NonInterleavingNotificationIDsBaseCase
):
    """Two concurrent inserts get contiguous notification ids: the table lock, taken inside
    our function. Two connections, so that the race is decided by the database (with the
    library's one, the pool would serialize the writers)."""

    def create_recorder(self) -> SingleTripRecorder:
        self.more_connections(2)
        return super().create_recorder()


# --- The factory: eventsourcing's InfrastructureFactoryTestCase -------------------------


class TestLibpqPostgresFactory(
    OnTheHarnessServer, es_persistence.InfrastructureFactoryTestCase[LibpqPostgresFactory]
):
    """Our factory, built from our environment (ClinicMapper as MAPPER_TOPIC), as
    InfrastructureFactory.construct builds it for every application."""

    class TrackingRecorderSubclass(PostgresTrackingRecorder):
        pass

    def setUp(self) -> None:
        self.env = Environment("TestCase", self.clinic_env(pool_size=1))
        super().setUp()

    def expected_factory_class(self) -> type[LibpqPostgresFactory]:
        return LibpqPostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return SingleTripRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder


class TestReadModelTracking(OnTheHarnessServer, es_persistence.TrackingRecorderTestCase):
    """A read model (a PostgresTrackingRecorder, made by our factory from our environment)
    keeps its position as the library's tracking recorders do: CatchUpRunner's exactly-once
    relies on it (decision 0006)."""

    def create_recorder(self) -> TrackingRecorder:
        from infra.postgres.appointments import AppointmentsReadModel
        from infra.postgres.read_models import read_model

        model = read_model(AppointmentsReadModel.name, self.database_url, self.db_schema)
        self.addCleanup(model.datastore.close)
        return model


# --- Applications on our environment: eventsourcing's application test cases -----------


class WithClinicEnvironment(OnTheHarnessServer):
    """The library's application tests read their persistence settings from os.environ
    (its WithPostgres sets POSTGRES_*); here they get everything eventsourcing_env gives
    production: our factory, our recorder and insert function, ClinicMapper."""

    expected_factory_topic = FACTORY_TOPIC

    @pytest.fixture(autouse=True)
    def _clinic_environment(self, _on_the_harness_server: None,
                            monkeypatch: pytest.MonkeyPatch) -> None:
        for key, value in self.clinic_env().items():
            monkeypatch.setenv(key, value)


class TestApplicationOnClinicEnvironment(WithClinicEnvironment, es_application.ApplicationTestCase):
    pass


class TestExampleApplicationOnClinicEnvironment(
    WithClinicEnvironment, es_application.ExampleApplicationTestCase
):
    pass


# --- Our replacements of library idioms, against the library's own -----------------------


ADDRESS = Address("1 Main St", "Boston", "MA", "02110")


class Clinics(Application[UUID]):
    name = "clinics"


def saved_clinics(app: Application[UUID], count: int) -> list[Clinic]:
    """`count` clinics with 1..count events each, saved in several transactions, some of
    them with several aggregates."""
    clinics = [Clinic.register(f"Clinic {n}", ADDRESS, "America/New_York",
                               [Modality.in_person]) for n in range(count)]
    app.save(*clinics[:2])
    for n, clinic in enumerate(clinics):
        for revision in range(n):
            clinic.revise(f"Clinic {n}.{revision}", ADDRESS,
                          [Modality.in_person, Modality.telehealth][: 1 + revision % 2])
            if revision % 2:
                app.save(clinic)
    app.save(*clinics)
    return clinics


class SeenEvents(PostgresTrackingRecorder):
    """A view for the library's ProjectionRunner: each event it was given, in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[int, Any]] = []

    def see(self, event: Any, tracking: Tracking) -> None:
        self.seen.append((tracking.notification_id, event))
        self.insert_tracking(tracking)


class EveryEvent(Projection[SeenEvents]):
    name = "every_event"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.see(domain_event, tracking)


class SeenInBatches:
    """A read model for CatchUpRunner (projections/runner.ReadModel), in memory."""

    name = "every_event"

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.batches: list[tuple[int, int]] = []  # (events, tracked notification id)

    def position(self, application_name: str) -> int | None:
        return self.batches[-1][1] if self.batches else None

    def process(self, events: Sequence[Any], tracking: Tracking) -> None:
        self.seen.extend(events)
        self.batches.append((len(events), tracking.notification_id))

    def tick(self) -> None:
        pass

    def reset(self) -> None:
        self.seen.clear()
        self.batches.clear()


@pytest.fixture
def clinics_app(database: tuple[str, str]) -> Iterator[Clinics]:
    app = Clinics(env=eventsourcing_env(*database, pool_size=2))
    yield app
    app.close()


def test_catch_up_runner_projects_what_the_library_projection_runner_projects(
    clinics_app: Clinics, database: tuple[str, str],
) -> None:
    """CatchUpRunner (decision 0006) in batches against eventsourcing's ProjectionRunner
    (a subscription, one event at a time) over the same application: the same events,
    mapped alike (ClinicMapper's __meta__ included), in notification order."""
    saved_clinics(clinics_app, 5)
    last = clinics_app.recorder.max_notification_id()
    assert last == 15

    with ProjectionRunner(application_class=Clinics, projection_class=EveryEvent,
                          view_class=SeenEvents,
                          env=eventsourcing_env(*database, pool_size=2)) as runner:
        runner.wait(last, timeout=10)
        library = list(runner.projection.view.seen)
    runner.projection.view.datastore.close()
    ours = SeenInBatches()

    applied = CatchUpRunner(clinics_app, ours, batch_size=4).catch_up()

    assert [notification_id for notification_id, _ in library] == list(range(1, last + 1))
    assert applied == len(ours.seen) == len(library)
    assert [(type(e), vars(e)) for e in ours.seen] \
        == [(type(e), vars(e)) for _, e in library]
    assert all("__meta__" in vars(e) for e in ours.seen)
    assert ours.batches == [(4, 4), (4, 8), (4, 12), (3, 15)]


def test_batched_read_reconstructs_what_the_library_repository_gets(
    database: tuple[str, str],
) -> None:
    """The use cases' read of several aggregates in one query (decision 0027) against
    eventsourcing's Repository.get, one aggregate at a time."""
    from commands.application import ClinicApplication

    app = ClinicApplication(env=eventsourcing_env(*database, pool_size=2))
    try:
        assert isinstance(app.recorder, SingleTripRecorder)
        clinics = saved_clinics(app, 5)
        ids = [clinic.id for clinic in clinics]

        loaded = app.get_many(*ids, uuid4())

        assert set(loaded) == set(ids)
        for clinic in clinics:
            expected = app.repository.get(clinic.id)
            assert expected.version == clinic.version
            assert type(loaded[clinic.id]) is type(expected)
            assert vars(loaded[clinic.id]) == vars(expected)
        assert [loaded[i].version for i in ids] == [1, 2, 3, 4, 5]
    finally:
        app.close()


def test_a_subscription_of_the_library_sees_what_our_function_inserts_concurrently(
    clinics_app: Clinics,
) -> None:
    """eventsourcing's subscription (LISTEN, then select_notifications) wakes on the NOTIFY
    our function sends and, writers racing, follows them live: every event once, in id
    order. (That no id commits late is the non-interleaving test's and
    test_event_log_order's.)"""
    recorder = clinics_app.recorder
    writers, each = 4, 25
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(each):
                recorder.insert_events([StoredEvent(uuid4(), 1, "topic", b"state")])
        except BaseException as exc:  # reported below
            errors.append(exc)

    seen: list[int] = []
    with recorder.subscribe(gt=0) as subscription:
        watchdog = threading.Timer(30, subscription.stop)  # never hang: stop, then fail
        watchdog.start()
        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for notification in subscription:
            seen.append(notification.id)
            if len(seen) == writers * each:
                break
        for thread in threads:
            thread.join()
        watchdog.cancel()
    assert not errors
    assert seen == list(range(1, writers * each + 1))
