"""The reminder schedule in PostgreSQL: due visits from the appointments read model, and the
marks of reminders already recorded (projections/reminders.py decides)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from infra.postgres.tables import table_pool

DDL = """
CREATE TABLE IF NOT EXISTS {s}.reminder_marks (
    appointment_id uuid NOT NULL, offset_minutes int NOT NULL, start_at timestamptz NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (appointment_id, offset_minutes, start_at))
"""


class PostgresReminderSchedule:
    def __init__(self, database_url: str, schema: str) -> None:
        self.s = f'"{schema}"'
        self.pool = table_pool(database_url, schema, DDL)

    def due(self, offset: timedelta, now: datetime, limit: int) -> list[tuple[UUID, datetime]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT a.appointment_id, a.start_at FROM {self.s}.appointments a "
                "WHERE a.status = 'booked' AND a.start_at > %(now)s "
                "AND a.start_at <= %(now)s + %(offset)s "
                "AND a.updated_at < a.start_at - %(offset)s "
                f"AND NOT EXISTS (SELECT 1 FROM {self.s}.reminder_marks m "
                "  WHERE m.appointment_id = a.appointment_id "
                "  AND m.offset_minutes = %(minutes)s AND m.start_at = a.start_at) "
                "ORDER BY a.start_at LIMIT %(limit)s",
                {"now": now, "offset": offset, "minutes": _minutes(offset), "limit": limit},
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def mark(self, appointment_id: UUID, offset: timedelta, start: datetime) -> None:
        with self.pool.connection() as conn:
            conn.execute(f"INSERT INTO {self.s}.reminder_marks "
                         "(appointment_id, offset_minutes, start_at) VALUES (%s, %s, %s) "
                         "ON CONFLICT DO NOTHING", (appointment_id, _minutes(offset), start))

    def lapsed(self, now: datetime, limit: int) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT appointment_id FROM {self.s}.appointments "
                "WHERE status = 'booked' AND release_minutes IS NOT NULL AND NOT confirmed "
                "AND start_at <= %(now)s + make_interval(mins => release_minutes) "
                "AND start_at > %(now)s ORDER BY start_at LIMIT %(limit)s",
                {"now": now, "limit": limit}).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        self.pool.close()


def _minutes(offset: timedelta) -> int:
    return int(offset.total_seconds() // 60)
