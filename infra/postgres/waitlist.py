"""PostgreSQL side of the waitlist (docs/waitlist.md): the read model of entries and freed
times (rows and tracking position in one transaction), the line of candidates for a freed
time (the WaitlistBoard port) and the offer matcher's schedule."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool

from domain.slots import Slot
from infra.postgres.read_model import TrackedReadModel
from infra.postgres.tables import table_pool
from projections.waitlist import apply_events

DDL = """
CREATE TABLE IF NOT EXISTS {s}.waitlist_entries (
    entry_id uuid PRIMARY KEY, patient_id uuid NOT NULL, service_id uuid NOT NULL,
    clinic_ids uuid[] NOT NULL, provider_id uuid, not_before timestamptz NOT NULL,
    not_after timestamptz NOT NULL, instead_of uuid, priority int NOT NULL DEFAULT 0,
    status text NOT NULL, joined_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    offer_id uuid, opening_id uuid, offer_slot_id uuid, offer_start timestamptz,
    offer_end timestamptz, offer_expires_at timestamptz, appointment_id uuid);
CREATE INDEX IF NOT EXISTS waitlist_entries_in_line ON {s}.waitlist_entries
    (service_id, priority DESC, joined_at, entry_id) WHERE status = 'waiting';
CREATE INDEX IF NOT EXISTS waitlist_entries_by_patient ON {s}.waitlist_entries
    (patient_id, joined_at);
CREATE TABLE IF NOT EXISTS {s}.waitlist_openings (
    opening_id uuid PRIMARY KEY, freed_by uuid NOT NULL, slot_id uuid,
    start_at timestamptz, status text NOT NULL DEFAULT 'freed',
    offer_expires_at timestamptz, freed_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS waitlist_openings_pending ON {s}.waitlist_openings (freed_at)
    WHERE status <> 'closed';
CREATE TABLE IF NOT EXISTS {s}.waitlist_new_hours (
    schedule_id uuid NOT NULL, version int NOT NULL, marked_at timestamptz NOT NULL,
    PRIMARY KEY (schedule_id, version));
ALTER TABLE {s}.waitlist_new_hours DROP COLUMN IF EXISTS position
"""
SETTLED_DDL = """
CREATE TABLE IF NOT EXISTS {s}.waitlist_settled (
    opening_id uuid PRIMARY KEY, settled_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {s}.waitlist_hours_done (
    schedule_id uuid NOT NULL, version int NOT NULL, done_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, version))
"""
ENTRY_COLUMNS = ("entry_id", "patient_id", "service_id", "clinic_ids", "provider_id",
                 "not_before", "not_after", "instead_of", "priority", "status", "joined_at",
                 "updated_at", "offer_id", "opening_id", "offer_slot_id", "offer_start",
                 "offer_end", "offer_expires_at")


class WaitlistReadModel(TrackedReadModel):
    name = "waitlist"
    DDL = DDL
    TABLES = ("waitlist_entries", "waitlist_openings", "waitlist_new_hours")

    def apply(self, curs: Cursor[DictRow], events: Sequence[Any], now: datetime) -> None:
        apply_events(_Writer(curs, self.schema), events)


def matcher_channel(schema: str) -> str:
    """The NOTIFY channel on which the waitlist read model says freed time was recorded
    (the schema as settings name it, or as the read models quote it)."""
    return f"{schema.strip(chr(34))}_waitlist_openings"


class _Writer:
    def __init__(self, curs: Cursor[DictRow], schema: str) -> None:
        self.curs, self.s = curs, schema

    def new_hours(self, schedule_id: UUID, version: int, at: datetime) -> None:
        self.curs.execute(sql.SQL(
            f"INSERT INTO {self.s}.waitlist_new_hours (schedule_id, version, marked_at) "
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"), (schedule_id, version, at))
        self._ring()

    def add_entry(self, row: dict[str, Any]) -> None:
        self.curs.execute(sql.SQL(
            f"INSERT INTO {self.s}.waitlist_entries ({', '.join(ENTRY_COLUMNS)}) VALUES "
            f"({', '.join(f'%({c})s' for c in ENTRY_COLUMNS)}) "
            "ON CONFLICT (entry_id) DO NOTHING"), row)

    def change_entry(self, entry_id: UUID, changes: dict[str, Any]) -> None:
        """An erased patient's entries stay ended, whatever their offers do after."""
        self._update("waitlist_entries", "entry_id", entry_id, changes, "status <> 'erased'")

    def patient_erased(self, patient_id: UUID) -> None:
        self.curs.execute(sql.SQL(
            f"UPDATE {self.s}.waitlist_entries SET status = 'erased' "
            "WHERE patient_id = %s AND status IN ('waiting', 'offered')"), (patient_id,))

    def add_opening(self, row: dict[str, Any]) -> None:
        self.curs.execute(sql.SQL(
            f"INSERT INTO {self.s}.waitlist_openings (opening_id, freed_by, slot_id, "
            "freed_at) VALUES (%(opening_id)s, %(freed_by)s, %(slot_id)s, %(freed_at)s) "
            "ON CONFLICT (opening_id) DO NOTHING"), row)
        self._ring()

    def _ring(self) -> None:
        """Wake the offer matcher when this batch commits (NOTIFY is sent at commit, once
        per transaction however often it is asked)."""
        self.curs.execute("SELECT pg_notify(%s, '')", (matcher_channel(self.s),))

    def change_opening(self, opening_id: UUID, changes: dict[str, Any]) -> None:
        self._update("waitlist_openings", "opening_id", opening_id, changes)

    def _update(self, table: str, key: str, value: UUID, changes: dict[str, Any],
                condition: str = "true") -> None:
        sets = ", ".join(f"{column} = %({column})s" for column in changes)
        self.curs.execute(sql.SQL(
            f"UPDATE {self.s}.{table} SET {sets} WHERE {key} = %(_k)s AND {condition}"),
            {**changes, "_k": value})


class PostgresWaitlistBoard:
    """The line for a freed time (commands/ports/waitlist.py: WaitlistBoard) and the matcher's
    schedule (projections/waitlist.py: WaitlistSchedule), over the read model."""

    def __init__(self, database_url: str, schema: str) -> None:
        self.s = f'"{schema}"'
        self.pool: ConnectionPool[Any] = table_pool(database_url, schema, SETTLED_DDL)

    def in_line_for(self, freed: Slot, passed_over: Collection[UUID],
                    limit: int) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT entry_id FROM {self.s}.waitlist_entries "
                "WHERE status = 'waiting' AND service_id = %(service)s "
                "AND (cardinality(clinic_ids) = 0 OR %(clinic)s = ANY(clinic_ids)) "
                "AND (provider_id IS NULL OR provider_id = %(provider)s) "
                "AND not_before <= %(start)s AND not_after >= %(end)s "
                "AND NOT (entry_id = ANY(%(passed)s)) "
                "ORDER BY priority DESC, joined_at, entry_id LIMIT %(limit)s",
                {"service": freed.service_id, "clinic": freed.clinic_id,
                 "provider": freed.provider_id, "start": freed.start, "end": freed.end,
                 "passed": list(passed_over), "limit": limit}).fetchall()
        return [row[0] for row in rows]

    def offered_on(self, slot_id: UUID) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(f"SELECT entry_id FROM {self.s}.waitlist_entries "
                                "WHERE status = 'offered' AND offer_slot_id = %s",
                                (slot_id,)).fetchall()
        return [row[0] for row in rows]

    def pending_openings(self, now: datetime, limit: int,
                         resting: Collection[UUID] = ()) -> list[tuple[UUID, UUID, UUID | None]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT o.opening_id, o.freed_by, o.slot_id FROM {self.s}.waitlist_openings o "
                "WHERE o.status <> 'closed' AND NOT (o.opening_id = ANY(%(resting)s)) "
                "AND (o.offer_expires_at IS NULL OR o.offer_expires_at <= %(now)s) "
                f"AND NOT EXISTS (SELECT 1 FROM {self.s}.waitlist_settled d "
                "  WHERE d.opening_id = o.opening_id) "
                "ORDER BY o.freed_at, o.opening_id LIMIT %(limit)s",
                {"now": now, "limit": limit, "resting": list(resting)}).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def ended_windows(self, now: datetime, limit: int) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT entry_id FROM {self.s}.waitlist_entries "
                "WHERE status = 'waiting' AND not_after <= %s ORDER BY not_after LIMIT %s",
                (now, limit)).fetchall()
        return [row[0] for row in rows]

    def waiting_at(self, provider_id: UUID, clinic_id: UUID, service_ids: Collection[UUID],
                   joined_before: datetime, limit: int) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT entry_id FROM {self.s}.waitlist_entries "
                "WHERE status = 'waiting' AND service_id = ANY(%(services)s) "
                "AND (cardinality(clinic_ids) = 0 OR %(clinic)s = ANY(clinic_ids)) "
                "AND (provider_id IS NULL OR provider_id = %(provider)s) "
                "AND joined_at < %(joined_before)s "
                "ORDER BY priority DESC, joined_at, entry_id LIMIT %(limit)s",
                {"services": list(service_ids), "clinic": clinic_id, "provider": provider_id,
                 "joined_before": joined_before, "limit": limit}).fetchall()
        return [row[0] for row in rows]

    def new_hours_shown(self, limit: int) -> list[tuple[UUID, int, datetime]]:
        """Slot search shows a change once its own copy of the schedule is that recent."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT m.schedule_id, m.version, m.marked_at FROM {self.s}.waitlist_new_hours m "
                f"JOIN {self.s}.availability_schedules a ON a.schedule_id = m.schedule_id "
                "AND a.updated_at >= m.marked_at "
                f"WHERE NOT EXISTS (SELECT 1 FROM {self.s}.waitlist_hours_done d "
                "  WHERE d.schedule_id = m.schedule_id AND d.version = m.version) "
                "ORDER BY m.marked_at LIMIT %s", (limit,)).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def new_hours_done(self, schedule_id: UUID, version: int) -> None:
        """Outside the read model (like settled openings): a rebuild does not redo it."""
        with self.pool.connection() as conn:
            conn.execute(f"INSERT INTO {self.s}.waitlist_hours_done (schedule_id, version) "
                         "VALUES (%s, %s) ON CONFLICT DO NOTHING", (schedule_id, version))

    def settle(self, opening_id: UUID) -> None:
        with self.pool.connection() as conn:
            conn.execute(f"INSERT INTO {self.s}.waitlist_settled (opening_id) VALUES (%s) "
                         "ON CONFLICT DO NOTHING", (opening_id,))

    def close(self) -> None:
        self.pool.close()
