"""PostgreSQL side of the analytics' open minutes (projections/capacity.py): each schedule's
rules and how far its days are filled, the minutes per day, and the day of the last roll."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from projections.capacity import ScheduleState

DDL = """
CREATE TABLE IF NOT EXISTS {a}.schedules (
    schedule_id uuid PRIMARY KEY, provider_id uuid NOT NULL, clinic_id uuid NOT NULL,
    rules jsonb NOT NULL, filled_through date);
CREATE TABLE IF NOT EXISTS {a}.daily_capacity (
    provider_id uuid NOT NULL, clinic_id uuid NOT NULL, local_date date NOT NULL,
    open_minutes int NOT NULL, PRIMARY KEY (provider_id, clinic_id, local_date));
CREATE TABLE IF NOT EXISTS {a}.rolled (one boolean PRIMARY KEY DEFAULT true CHECK (one),
    day date NOT NULL)
"""
TABLES = ("schedules", "daily_capacity", "rolled")


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
