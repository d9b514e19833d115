"""What the notifier has handled, by event id: its deduplication and its record of outcomes
(ids and outcomes only, no PHI)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from infra.postgres.tables import table_pool

DDL = """
CREATE TABLE IF NOT EXISTS {s}.notify_log (
    event_id uuid PRIMARY KEY, event_type text NOT NULL, outcome text NOT NULL,
    detail text NOT NULL DEFAULT '', attempts int NOT NULL, handled_at timestamptz NOT NULL)
"""



class DeliveryLog:
    """What the notifier has handled, by event id (ids and outcomes only, no PHI)."""

    def __init__(self, database_url: str, schema: str) -> None:
        self.s = f'"{schema}"'
        self.pool = table_pool(database_url, schema, DDL)

    def handled(self, event_id: UUID) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT 1 FROM {self.s}.notify_log WHERE event_id = %s",
                               (event_id,)).fetchone()
        return row is not None

    def record(self, event_id: UUID, event_type: str, outcome: str, detail: str,
               attempts: int) -> None:
        with self.pool.connection() as conn:
            conn.execute(f"INSERT INTO {self.s}.notify_log VALUES (%s, %s, %s, %s, %s, %s) "
                         "ON CONFLICT (event_id) DO NOTHING",
                         (event_id, event_type, outcome, detail, attempts, datetime.now(UTC)))

    def forget_dead_letter(self, event_id: UUID) -> None:
        """Let a dead-lettered message be handled again (a message sent since stays sent)."""
        with self.pool.connection() as conn:
            conn.execute(f"DELETE FROM {self.s}.notify_log WHERE event_id = %s "
                         "AND outcome = 'dead-lettered'", (event_id,))

    def outcomes(self) -> dict[str, int]:
        with self.pool.connection() as conn:
            rows = conn.execute(f"SELECT outcome, count(*) FROM {self.s}.notify_log "
                                "GROUP BY outcome").fetchall()
        return {row[0]: row[1] for row in rows}

    def close(self) -> None:
        self.pool.close()
