"""PostgreSQL side of the analytics' open minutes and offered slots (projections/capacity.py,
projections/slot_offer.py): each schedule's rules and how far its days are filled, the minutes
per day, the slots per hour, what slot cutting needs of the directory, and the last roll."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from projections.capacity import ScheduleState
from projections.slot_offer import HourCounts
from projections.slot_search import OfferedService

DDL = """
CREATE TABLE IF NOT EXISTS {a}.schedules (
    schedule_id uuid PRIMARY KEY, provider_id uuid NOT NULL, clinic_id uuid NOT NULL,
    rules jsonb NOT NULL, filled_through date);
CREATE TABLE IF NOT EXISTS {a}.daily_capacity (
    provider_id uuid NOT NULL, clinic_id uuid NOT NULL, local_date date NOT NULL,
    open_minutes int NOT NULL, PRIMARY KEY (provider_id, clinic_id, local_date));
CREATE TABLE IF NOT EXISTS {a}.rolled (one boolean PRIMARY KEY DEFAULT true CHECK (one),
    day date NOT NULL);
CREATE TABLE IF NOT EXISTS {a}.hourly_offer (
    schedule_id uuid NOT NULL, clinic_id uuid NOT NULL, local_date date NOT NULL,
    hour smallint NOT NULL, slots int NOT NULL, PRIMARY KEY (schedule_id, local_date, hour));
CREATE INDEX IF NOT EXISTS hourly_offer_by_clinic_day ON {a}.hourly_offer
    (clinic_id, local_date, hour);
ALTER TABLE {a}.clinics ADD COLUMN IF NOT EXISTS modalities text[] NOT NULL DEFAULT '{{}}';
CREATE TABLE IF NOT EXISTS {a}.services (service_id uuid PRIMARY KEY,
    duration_minutes int NOT NULL, modality text NOT NULL);
CREATE TABLE IF NOT EXISTS {a}.providers (provider_id uuid PRIMARY KEY,
    clinic_ids uuid[] NOT NULL, service_ids uuid[] NOT NULL)
"""
TABLES = ("schedules", "daily_capacity", "rolled", "hourly_offer", "services", "providers")


class CapacityRows:
    def __init__(self, curs: Cursor[DictRow], analytics: str) -> None:
        self.curs, self.a = curs, analytics
        self._rolled: date | None = None
        self._rolled_read = False
        self._zones: dict[UUID, str] = {}  # a clinic's zone is set once, when registered

    def _run(self, query: str, params: Any = None) -> Cursor[DictRow]:
        # A cursor per statement: in pipeline mode (infra/postgres/analytics.py) a cursor
        # that ran several statements hands back the first one's result, not its last.
        curs = self.curs.connection.cursor(row_factory=self.curs.row_factory)
        return curs.execute(sql.SQL(query), params)

    def time_zone(self, clinic_id: UUID) -> str | None:
        if (known := self._zones.get(clinic_id)) is not None:
            return known
        row = self._run(f"SELECT time_zone FROM {self.a}.clinics WHERE clinic_id = %s",
                        (clinic_id,)).fetchone()
        if row is None:
            return None
        self._zones[clinic_id] = zone = str(row["time_zone"])
        return zone

    def schedules(self) -> list[ScheduleState]:
        return [_state(row) for row in self._run(
            f"SELECT s.*, c.time_zone FROM {self.a}.schedules s JOIN {self.a}.clinics c "
            "USING (clinic_id) ORDER BY schedule_id").fetchall()]

    def schedule(self, schedule_id: UUID) -> ScheduleState | None:
        row = self._run(f"SELECT s.*, c.time_zone FROM {self.a}.schedules s JOIN "
                        f"{self.a}.clinics c USING (clinic_id) WHERE schedule_id = %s",
                        (schedule_id,)).fetchone()
        return _state(row) if row else None

    def save_schedule(self, state: ScheduleState) -> None:
        self._run(f"INSERT INTO {self.a}.schedules VALUES (%s, %s, %s, %s, %s) "
                  "ON CONFLICT (schedule_id) DO UPDATE SET rules = excluded.rules, "
                  "filled_through = excluded.filled_through",
                  (state.schedule_id, state.provider_id, state.clinic_id, Jsonb(state.rules),
                   state.filled_through))

    def open_minutes(self, state: ScheduleState, days: dict[date, int]) -> None:
        self.curs.executemany(sql.SQL(
            f"INSERT INTO {self.a}.daily_capacity VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (provider_id, clinic_id, local_date) "
            "DO UPDATE SET open_minutes = excluded.open_minutes"),
            [(state.provider_id, state.clinic_id, day, minutes)
             for day, minutes in sorted(days.items())])

    def clinic_modalities(self, clinic_id: UUID, modalities: list[str]) -> None:
        self._run(f"UPDATE {self.a}.clinics SET modalities = %s WHERE clinic_id = %s",
                  (modalities, clinic_id))

    def service(self, service_id: UUID, duration_minutes: int, modality: str) -> None:
        self._run(f"INSERT INTO {self.a}.services VALUES (%s, %s, %s) ON CONFLICT (service_id) "
                  "DO UPDATE SET duration_minutes = excluded.duration_minutes, "
                  "modality = excluded.modality", (service_id, duration_minutes, modality))

    def provider(self, provider_id: UUID, clinic_ids: list[UUID],
                 service_ids: list[UUID]) -> None:
        self._run(f"INSERT INTO {self.a}.providers VALUES (%s, %s, %s) "
                  "ON CONFLICT (provider_id) DO UPDATE SET clinic_ids = excluded.clinic_ids, "
                  "service_ids = excluded.service_ids", (provider_id, clinic_ids, service_ids))

    def providers_offering(self, service_id: UUID) -> set[UUID]:
        return {r["provider_id"] for r in self._run(
            f"SELECT provider_id FROM {self.a}.providers WHERE %s = ANY(service_ids)",
            (service_id,)).fetchall()}

    def offering(self, provider_id: UUID,
                 clinic_id: UUID) -> tuple[list[str], list[OfferedService]]:
        # As slot search's schedule_context (infra/postgres/slot_search.py) reads its tables.
        row = self._run(f"SELECT c.modalities, p.clinic_ids, p.service_ids FROM "
                        f"{self.a}.clinics c, {self.a}.providers p "
                        "WHERE c.clinic_id = %s AND p.provider_id = %s",
                        (clinic_id, provider_id)).fetchone()
        if row is None:
            return [], []
        if clinic_id not in row["clinic_ids"]:
            return list(row["modalities"]), []
        services = self._run(f"SELECT service_id, duration_minutes, modality FROM "
                             f"{self.a}.services WHERE service_id = ANY(%s) ORDER BY service_id",
                             (row["service_ids"],)).fetchall()
        return list(row["modalities"]), [
            OfferedService(r["service_id"], r["duration_minutes"], r["modality"])
            for r in services]

    def offered_slots(self, state: ScheduleState, days: list[date],
                      counts: HourCounts) -> None:
        self._run(f"DELETE FROM {self.a}.hourly_offer WHERE schedule_id = %s "
                  "AND local_date = ANY(%s)", (state.schedule_id, days))
        self.curs.executemany(sql.SQL(
            f"INSERT INTO {self.a}.hourly_offer VALUES (%s, %s, %s, %s, %s)"),
            [(state.schedule_id, state.clinic_id, day, hour, slots)
             for (day, hour), slots in sorted(counts.items())])

    def rolled_day(self) -> date | None:
        if not self._rolled_read:
            row = self._run(f"SELECT day FROM {self.a}.rolled").fetchone()
            self._rolled, self._rolled_read = (row["day"] if row else None), True
        return self._rolled

    def rolled(self, day: date) -> None:
        self._run(f"INSERT INTO {self.a}.rolled (day) VALUES (%s) "
                  "ON CONFLICT (one) DO UPDATE SET day = excluded.day", (day,))
        self._rolled, self._rolled_read = day, True


def _state(row: DictRow) -> ScheduleState:
    return ScheduleState(row["schedule_id"], row["provider_id"], row["clinic_id"], row["rules"],
                         row["time_zone"], row["filled_through"])
