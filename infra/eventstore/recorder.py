"""eventsourcing's persistence settings (POSTGRES_*) derived from CLINIC_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.utils import Environment, EnvType, retry
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from commands.ports import ReadsManyStreams
from infra.postgres.tables import DDL_LOCK

# Parameters eventsourcing takes as POSTGRES_*; every other libpq parameter in the URL
# (sslmode, sslrootcert, sslcert, sslkey, application_name, ...) goes in POSTGRES_LIBPQ_PARAMS.
_OWN_PARAMS = frozenset({"dbname", "host", "port", "user", "password"})


def eventsourcing_env(database_url: str, schema: str = "public",
                      pool_size: int = 10) -> dict[str, str]:
    """The environment an eventsourcing Application reads its persistence from. The pool
    opens `pool_size` connections at once and grows to twice that under load."""
    url = urlsplit(database_url)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError("CLINIC_DATABASE_URL must be a postgresql:// URL")
    libpq = {key: value for key, value in conninfo_to_dict(database_url).items()
             if key not in _OWN_PARAMS and value is not None}
    return {
        "PERSISTENCE_MODULE": f"{__name__}:{LibpqPostgresFactory.__name__}",
        LibpqPostgresFactory.POSTGRES_LIBPQ_PARAMS: make_conninfo("", **libpq),
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_CONNECT_TIMEOUT": "5",
        # On, with our own insert function that keeps the table lock (SingleTripRecorder).
        "POSTGRES_ENABLE_DB_FUNCTIONS": "yes",
        "CREATE_TABLE": "yes",
        "MAPPER_TOPIC": "infra.eventstore.mapper:ClinicMapper",
    }


class SingleTripRecorder(PostgresApplicationRecorder, ReadsManyStreams):
    """Records events with one server-side call: lock the table, NOTIFY, insert, commit.

    eventsourcing's default insert takes `LOCK TABLE ... IN EXCLUSIVE MODE` (so that insert
    order equals commit order for the notification log) and then needs client round trips
    (results, COMMIT) while holding it. In a Python API process each of those waits for
    the GIL too, and every other writer queues on the lock meanwhile: the convoy that
    limited booking throughput (docs/performance.md). Here the lock is taken inside a
    function called in autocommit mode, so it is held only server-side, from the lock to the
    commit that ends the statement. eventsourcing 9.5.6's own insert function leaves the lock
    out (ARCHITECTURE.md); this one keeps it, under a name of its own per table
    (docs/decisions/0023-single-trip-event-inserts.md)."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema, table = datastore.schema, self.events_table_name
        self.pg_function_name_insert_events = f"{table}_insert"
        self.check_identifier_length(self.pg_function_name_insert_events)
        # Four column arrays, not an array of the composite stored-event type: psycopg dumps
        # a list of composites field by field in Python (a sixth of a booking's CPU), lists
        # of uuid, bigint, text and bytea in binary with its C dumpers.
        self.sql_create_pg_function_insert_events = sql.SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(ids {id_type}[], versions "
            "bigint[], topics text[], states bytea[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "  SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "  LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "  NOTIFY {channel}; "
            "  RETURN QUERY "
            "  INSERT INTO {schema}.{table} AS t "
            "    (originator_id, originator_version, topic, state) "
            "  SELECT * FROM unnest(ids, versions, topics, states) "
            "  RETURNING notification_id; "
            "END; $BODY$"
        ).format(
            schema=sql.Identifier(schema), table=sql.Identifier(table),
            function=sql.Identifier(self.pg_function_name_insert_events),
            id_type=sql.SQL(datastore.originator_id_type),
            lock_timeout=datastore.lock_timeout, channel=sql.Identifier(self.channel_name),
        )
        self.sql_create_statements[self.create_insert_function_statement_index] = \
            self.sql_create_pg_function_insert_events
        self.sql_invoke_pg_function_insert_events = sql.SQL(
            "SELECT * FROM {schema}.{function}(%b, %b, %b, %b)"
        ).format(schema=sql.Identifier(schema),
                 function=sql.Identifier(self.pg_function_name_insert_events))

        self.sql_select_events_of = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(schema=sql.Identifier(schema), table=sql.Identifier(table))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        columns = ([e.originator_id for e in stored_events],
                   [e.originator_version for e in stored_events],
                   [e.topic for e in stored_events], [e.state for e in stored_events])
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_invoke_pg_function_insert_events, columns, prepare=True)
            return [row[self.pg_function_name_insert_events] for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_of(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        """Every event of several aggregates in one round trip (commands.base.UseCases
        loads what a command decides on at once: docs/decisions/0027)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_select_events_of, (list(originator_ids),), prepare=True)
            return [StoredEvent(originator_id=row["originator_id"],
                                originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"]))
                    for row in curs.fetchall()]

    def _create_table(self, curs: Any) -> None:
        # Every process creates (or replaces) the function at start; one at a time, or
        # PostgreSQL fails concurrent replacements ("tuple concurrently updated").
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
        super()._create_table(curs)


class LibpqPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, whose connections also get the URL's other libpq
    parameters (TLS above all: docs/decisions/0012-tls.md).

    PostgresDatastore accepts only dbname/host/port/user/password; its pool is created closed
    and opens on first use, so adding to the pool's connection keywords here reaches every
    connection it will make (recorders, tracking, the LISTEN of subscriptions)."""

    POSTGRES_LIBPQ_PARAMS = "POSTGRES_LIBPQ_PARAMS"
    application_recorder_class = SingleTripRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        params = self.env.get(self.POSTGRES_LIBPQ_PARAMS)
        if params:
            assert isinstance(self.datastore.pool.kwargs, dict)
            self.datastore.pool.kwargs.update(conninfo_to_dict(params))
