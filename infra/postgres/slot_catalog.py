"""The write side's view of slots: what a slot id means (provider, time, service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from commands.ports import SlotInfo


class PostgresSlotCatalog:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def slot(self, slot_id: UUID) -> SlotInfo | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute("""SELECT slot_id, provider_id, clinic_id, service_id, modality,
                                  start_at, end_at, book_by, status <> 'open' AS taken
                           FROM open_slots WHERE slot_id = %s""", (slot_id,), prepare=True)
            row = cur.fetchone()
        return None if row is None else _slot(row)

    def open_between(self, provider_id: UUID, clinic_id: UUID, service_id: UUID,
                     start_from: datetime, start_to: datetime, limit: int) -> list[SlotInfo]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute("""SELECT slot_id, provider_id, clinic_id, service_id, modality,
                                  start_at, end_at, book_by
                           FROM open_slots WHERE provider_id = %s AND status = 'open'
                           AND start_at >= %s AND start_at < %s AND clinic_id = %s
                           AND service_id = %s AND book_by > now()
                           ORDER BY start_at LIMIT %s""",
                        (provider_id, start_from, start_to, clinic_id, service_id, limit))
            return [_slot(row) for row in cur.fetchall()]


def _slot(row: dict[str, Any]) -> SlotInfo:
    return SlotInfo(slot_id=row["slot_id"], provider_id=row["provider_id"],
                    clinic_id=row["clinic_id"], service_id=row["service_id"],
                    modality=row["modality"], start=row["start_at"], end=row["end_at"],
                    book_by=row["book_by"], taken=bool(row.get("taken", False)))
