"""PostgreSQL side of the analytics read model: tables and v1 views in their own schema.

Analysts are granted the views of that schema and nothing else (infra/cli/analytics.py), so
the tables hold no PHI: ids, codes, times, counts. The patient is a keyed hash made with a
key derived from the patient's own data key, so it cannot be recomputed once the patient is
erased; the map from patient id to that key stays in the clinic's schema, out of analysts'
reach, and is what lets erasure find and blank their rows (docs/decisions/0057).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor, sql
from psycopg.rows import DictRow

from infra.crypto.datakeys import DataKeyMissingError
from infra.crypto.derived_keys import derive, keyed_hash
from infra.crypto.phi import PhiCipher
from infra.postgres.analytics_capacity import DDL as CAPACITY_DDL
from infra.postgres.analytics_capacity import TABLES as CAPACITY_TABLES
from infra.postgres.analytics_capacity import CapacityRows
from infra.postgres.read_model import TrackedReadModel
from projections.analytics import UtilizationKey, apply_events

TABLES = ("appointment_facts", "daily_utilization", "slot_supply", "freed_times", "clinics",
          *CAPACITY_TABLES)
VIEWS = ("v1_appointment_facts", "v1_daily_utilization", "v1_slot_supply", "v1_daily_capacity",
         "v1_slots_offered")
FACT_COLUMNS = (
    "appointment_id", "patient_key", "clinic_id", "provider_id", "service_id", "modality",
    "time_zone", "start_at", "end_at", "local_start", "local_date", "duration_minutes",
    "booked_at", "lead_time_minutes", "status", "rescheduled_at", "reschedule_count",
    "handed_off_at", "checked_in_at", "completed_at", "no_show_at", "cancelled_at",
    "late_cancellation", "cancelled_by_role", "booking_channel", "booked_by_role",
    "updated_at", "waitlist_offer_at")
UTILIZATION_COLUMNS = ("provider_id", "clinic_id", "service_id", "local_date", "appointments",
                       "booked_minutes", "attended_minutes", "cancellations",
                       "late_cancellations", "no_shows")
SUPPLY_COUNTS = ("booked", "freed_by_cancellation", "freed_by_reschedule", "rebooked",
                 "waitlist_booked")
SUPPLY_COLUMNS = ("clinic_id", "local_date", "hour", *SUPPLY_COUNTS, "slots_offered")

DDL = """
CREATE SCHEMA IF NOT EXISTS {a};
CREATE TABLE IF NOT EXISTS {s}.analytics_patient_keys (
    patient_id uuid PRIMARY KEY, patient_key text NOT NULL);
CREATE TABLE IF NOT EXISTS {a}.clinics (clinic_id uuid PRIMARY KEY, time_zone text NOT NULL);
CREATE TABLE IF NOT EXISTS {a}.appointment_facts (
    appointment_id uuid PRIMARY KEY, patient_key text, clinic_id uuid NOT NULL,
    provider_id uuid NOT NULL, service_id uuid NOT NULL, modality text NOT NULL,
    time_zone text NOT NULL, start_at timestamptz NOT NULL, end_at timestamptz NOT NULL,
    local_start timestamp NOT NULL, local_date date NOT NULL, duration_minutes int NOT NULL,
    booked_at timestamptz NOT NULL, lead_time_minutes int NOT NULL, status text NOT NULL,
    rescheduled_at timestamptz, reschedule_count int NOT NULL DEFAULT 0,
    handed_off_at timestamptz, checked_in_at timestamptz, completed_at timestamptz,
    no_show_at timestamptz, cancelled_at timestamptz,
    late_cancellation boolean NOT NULL DEFAULT false, cancelled_by_role text,
    booking_channel text NOT NULL, booked_by_role text NOT NULL,
    updated_at timestamptz NOT NULL, waitlist_offer_at timestamptz);
ALTER TABLE {a}.appointment_facts ADD COLUMN IF NOT EXISTS waitlist_offer_at timestamptz;
CREATE INDEX IF NOT EXISTS appointment_facts_by_date ON {a}.appointment_facts (local_date);
CREATE INDEX IF NOT EXISTS appointment_facts_by_patient ON {a}.appointment_facts (patient_key);
CREATE INDEX IF NOT EXISTS appointment_facts_by_provider_day
    ON {a}.appointment_facts (provider_id, local_date);
CREATE TABLE IF NOT EXISTS {a}.daily_utilization (
    provider_id uuid NOT NULL, clinic_id uuid NOT NULL, service_id uuid NOT NULL,
    local_date date NOT NULL, appointments int NOT NULL, booked_minutes int NOT NULL,
    attended_minutes int NOT NULL, cancellations int NOT NULL, late_cancellations int NOT NULL,
    no_shows int NOT NULL, PRIMARY KEY (provider_id, clinic_id, service_id, local_date));
CREATE TABLE IF NOT EXISTS {a}.slot_supply (
    clinic_id uuid NOT NULL, local_date date NOT NULL, hour smallint NOT NULL,
    booked int NOT NULL DEFAULT 0, freed_by_cancellation int NOT NULL DEFAULT 0,
    freed_by_reschedule int NOT NULL DEFAULT 0, rebooked int NOT NULL DEFAULT 0,
    waitlist_booked int NOT NULL DEFAULT 0, PRIMARY KEY (clinic_id, local_date, hour));
ALTER TABLE {a}.slot_supply ADD COLUMN IF NOT EXISTS waitlist_booked int NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS {a}.freed_times (
    provider_id uuid NOT NULL, start_at timestamptz NOT NULL, end_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS freed_times_by_provider ON {a}.freed_times (provider_id, start_at)
"""


def analytics_schema(schema: str) -> str:
    """`analytics` beside the default `public` schema; `<schema>_analytics` beside any other,
    so that two deployments (or two tests) in one database keep their analytics apart."""
    return "analytics" if schema in ("", "public") else f"{schema}_analytics"


def views_ddl(a: str) -> str:
    """The stable v1 views: their columns change only with a new version (docs/read-models)."""
    return ";".join([*(
        f"CREATE OR REPLACE VIEW {a}.{view} AS SELECT {', '.join(columns)} FROM {a}.{table}"
        for view, table, columns in (
            ("v1_appointment_facts", "appointment_facts", FACT_COLUMNS),
            ("v1_daily_utilization", "daily_utilization", UTILIZATION_COLUMNS))), f"""
        CREATE OR REPLACE VIEW {a}.v1_slots_offered AS
        SELECT clinic_id, local_date, hour, sum(slots)::int AS slots_offered
        FROM {a}.hourly_offer GROUP BY clinic_id, local_date, hour""", f"""
        CREATE OR REPLACE VIEW {a}.v1_slot_supply AS
        SELECT s.clinic_id, s.local_date, s.hour, {", ".join(f"s.{c}" for c in SUPPLY_COUNTS)},
               coalesce(o.slots_offered, 0) AS slots_offered
        FROM {a}.slot_supply s LEFT JOIN {a}.v1_slots_offered o
        USING (clinic_id, local_date, hour)""", f"""
        CREATE OR REPLACE VIEW {a}.v1_daily_capacity AS
        SELECT c.provider_id, c.clinic_id, c.local_date, c.open_minutes,
               coalesce(u.booked_minutes, 0)::int AS booked_minutes,
               coalesce(u.attended_minutes, 0)::int AS attended_minutes,
               round(coalesce(u.booked_minutes, 0)::numeric / nullif(c.open_minutes, 0), 4)
                   AS utilization
        FROM {a}.daily_capacity c LEFT JOIN (
            SELECT provider_id, clinic_id, local_date, sum(booked_minutes) AS booked_minutes,
                   sum(attended_minutes) AS attended_minutes
            FROM {a}.daily_utilization GROUP BY 1, 2, 3) u
        USING (provider_id, clinic_id, local_date)"""])


class AnalyticsReadModel(TrackedReadModel):
    """Appointment facts, daily utilization and slot supply, one transaction per batch."""

    name = "analytics"
    DDL = ""  # built in __init__: it names two schemas
    TABLES = TABLES

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.analytics = f'"{analytics_schema(datastore.schema or "public")}"'
        ddl = ";".join((DDL.format(s=self.schema, a=self.analytics),
                        CAPACITY_DDL.format(a=self.analytics), views_ddl(self.analytics)))
        for statement in ddl.split(";"):
            if statement.strip():
                self.sql_create_statements.append(sql.SQL(statement))  # type: ignore[arg-type]

    def apply(self, curs: Cursor[DictRow], events: Sequence[Any], now: datetime) -> None:
        if self.phi is None:
            raise RuntimeError("the analytics read model needs the PHI data keys")
        # Pipeline mode: the writes (most statements) go out without waiting for each
        # answer; a read (a fact, a zone, freed time) waits for what was sent before it.
        # A rebuild spent most of its time waiting on those answers (docs/performance.md).
        with curs.connection.pipeline():
            apply_events(_Writer(curs, self.schema, self.analytics, self.phi), events)

    def reset(self) -> None:
        tables = ", ".join([*(f"{self.analytics}.{t}" for t in TABLES),
                            f"{self.schema}.analytics_patient_keys"])
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(sql.SQL(f"TRUNCATE {tables}"))
            curs.execute(sql.SQL(
                f"DELETE FROM {self.schema}.{self.tracking_table_name}"))


def patient_key(data_key: bytes, patient_id: UUID) -> str:
    """The patient's pseudonym: stable across rebuilds, unrecomputable without their key."""
    return keyed_hash(derive(data_key, "analytics-patient-key"), patient_id.hex)[:32]


class _Writer(CapacityRows):
    def __init__(self, curs: Cursor[DictRow], schema: str, analytics: str,
                 phi: PhiCipher) -> None:
        super().__init__(curs, analytics)
        self.s, self.phi = schema, phi

    def clinic(self, clinic_id: UUID, time_zone: str) -> None:
        self._run(f"INSERT INTO {self.a}.clinics VALUES (%s, %s) ON CONFLICT DO NOTHING",
                  (clinic_id, time_zone))

    def patient_key(self, patient_id: UUID) -> str | None:
        try:
            data_key = self.phi.keys.key_for(patient_id, create=False)
        except DataKeyMissingError:
            return None
        if data_key is None:  # erased before this projector reached their booking
            return None
        key = patient_key(data_key, patient_id)
        self._run(f"INSERT INTO {self.s}.analytics_patient_keys VALUES (%s, %s) "
                  "ON CONFLICT DO NOTHING", (patient_id, key))
        return key

    def forget_patient(self, patient_id: UUID) -> None:
        self._run(f"WITH gone AS (DELETE FROM {self.s}.analytics_patient_keys "
                  "WHERE patient_id = %s RETURNING patient_key) "
                  f"UPDATE {self.a}.appointment_facts f SET patient_key = NULL "
                  "FROM gone WHERE f.patient_key = gone.patient_key", (patient_id,))

    def fact(self, appointment_id: UUID) -> dict[str, Any] | None:
        return self._run(f"SELECT * FROM {self.a}.appointment_facts "
                         "WHERE appointment_id = %s", (appointment_id,)).fetchone()

    def insert_fact(self, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        values = ", ".join(f"%({c})s" for c in row)
        self._run(f"INSERT INTO {self.a}.appointment_facts ({names}) VALUES ({values}) "
                  "ON CONFLICT (appointment_id) DO NOTHING", row)

    def update_fact(self, appointment_id: UUID, changes: dict[str, Any]) -> None:
        sets = ", ".join(f"{column} = %({column})s" for column in changes)
        self._run(f"UPDATE {self.a}.appointment_facts SET {sets} "
                  "WHERE appointment_id = %(appointment_id)s",
                  {**changes, "appointment_id": appointment_id})

    def count_supply(self, clinic_id: UUID, day: date, hour: int, column: str) -> None:
        if column not in SUPPLY_COUNTS:
            raise ValueError(f"not a slot-supply count: {column}")
        self._run(f"INSERT INTO {self.a}.slot_supply (clinic_id, local_date, hour, {column}) "
                  f"VALUES (%s, %s, %s, 1) ON CONFLICT (clinic_id, local_date, hour) "
                  f"DO UPDATE SET {column} = slot_supply.{column} + 1", (clinic_id, day, hour))

    def free(self, provider_id: UUID, start: datetime, end: datetime) -> None:
        self._run(f"INSERT INTO {self.a}.freed_times VALUES (%s, %s, %s)",
                  (provider_id, start, end))

    def take_freed(self, provider_id: UUID, start: datetime, end: datetime) -> bool:
        taken = self._run(f"DELETE FROM {self.a}.freed_times WHERE provider_id = %s "
                          "AND start_at < %s AND end_at > %s RETURNING 1",
                          (provider_id, end, start)).fetchall()
        return bool(taken)

    def recount(self, keys: set[UtilizationKey]) -> None:
        for provider, clinic, service, day in sorted(keys):
            params = {"p": provider, "c": clinic, "v": service, "d": day}
            match = "provider_id = %(p)s AND clinic_id = %(c)s AND service_id = %(v)s " \
                    "AND local_date = %(d)s"
            self._run(f"DELETE FROM {self.a}.daily_utilization WHERE {match}", params)
            self._run(f"""
                INSERT INTO {self.a}.daily_utilization
                SELECT provider_id, clinic_id, service_id, local_date,
                       count(*) FILTER (WHERE status <> 'cancelled'),
                       coalesce(sum(duration_minutes) FILTER (WHERE status <> 'cancelled'), 0),
                       coalesce(sum(duration_minutes) FILTER (WHERE status = 'fulfilled'), 0),
                       count(*) FILTER (WHERE status = 'cancelled'),
                       count(*) FILTER (WHERE status = 'cancelled' AND late_cancellation),
                       count(*) FILTER (WHERE status = 'noshow')
                FROM {self.a}.appointment_facts WHERE {match}
                GROUP BY provider_id, clinic_id, service_id, local_date""", params)
