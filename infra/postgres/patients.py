"""PostgreSQL side of the `patients` table (docs/read-models.md). PHI-free.

Kept by the appointments read model's projector, in the same transaction as the
appointments (one commit per batch rather than a projector of its own).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow

PATIENTS_DDL = """
CREATE TABLE IF NOT EXISTS {s}.patients (
    patient_id uuid PRIMARY KEY, registered_at timestamptz NOT NULL,
    email_verified boolean NOT NULL DEFAULT false, last_activity_at timestamptz NOT NULL,
    erased_at timestamptz, erasure_basis text,
    projected_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX IF NOT EXISTS patients_by_last_activity ON {s}.patients (last_activity_at)
    WHERE erased_at IS NULL
"""


class PatientsWriter:
    def __init__(self, curs: Cursor[DictRow], schema: str) -> None:
        self.curs, self.s = curs, schema

    def registered(self, patient_id: UUID, at: datetime) -> None:
        self.curs.execute(sql.SQL(
            f"INSERT INTO {self.s}.patients (patient_id, registered_at, last_activity_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (patient_id) DO NOTHING"), (patient_id, at, at))

    def active(self, patient_id: UUID, at: datetime, verified: bool | None = None) -> None:
        self.curs.execute(sql.SQL(
            f"UPDATE {self.s}.patients SET last_activity_at = greatest(last_activity_at, %s), "
            "email_verified = coalesce(%s, email_verified) WHERE patient_id = %s"),
            (at, verified, patient_id))

    def erased(self, patient_id: UUID, at: datetime, basis: str) -> None:
        self.curs.execute(sql.SQL(
            f"UPDATE {self.s}.patients SET erased_at = %s, erasure_basis = %s, "
            "email_verified = false WHERE patient_id = %s"), (at, basis, patient_id))
