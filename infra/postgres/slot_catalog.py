"""The write side's view of slots: what a slot id means (provider, time, service)."""

from __future__ import annotations

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
                                  start_at, end_at, book_by
                           FROM open_slots WHERE slot_id = %s""", (slot_id,), prepare=True)
            row = cur.fetchone()
        if row is None:
            return None
        return SlotInfo(slot_id=row["slot_id"], provider_id=row["provider_id"],
                        clinic_id=row["clinic_id"], service_id=row["service_id"],
                        modality=row["modality"], start=row["start_at"], end=row["end_at"],
                        book_by=row["book_by"])
