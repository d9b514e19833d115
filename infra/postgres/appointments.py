"""PostgreSQL side of the appointments read model (docs/read-models.md).

The visit reason is PHI: stored sealed with the patient's key (infra/crypto/phi.py), so it
is as unreadable here as in the events once the patient is erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow

from domain.privacy import ERASED
from infra.crypto.datakeys import SubjectErasedError
from infra.crypto.phi import PhiCipher
from infra.postgres.patients import PATIENTS_DDL, PatientsWriter
from infra.postgres.read_model import TrackedReadModel
from projections.appointments import apply_events
from projections.patients import apply_events as apply_patient_events

DDL = """
CREATE TABLE IF NOT EXISTS {s}.appointments (
    appointment_id uuid PRIMARY KEY, patient_id uuid NOT NULL, provider_id uuid NOT NULL,
    clinic_id uuid NOT NULL, service_id uuid NOT NULL, slot_id uuid NOT NULL,
    start_at timestamptz NOT NULL, end_at timestamptz NOT NULL, modality text NOT NULL,
    status text NOT NULL, late_cancellation boolean NOT NULL DEFAULT false,
    reschedule_count int NOT NULL DEFAULT 0, reason text NOT NULL DEFAULT '',
    booked_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    version int NOT NULL DEFAULT 1,
    projected_at timestamptz NOT NULL DEFAULT clock_timestamp());
ALTER TABLE {s}.appointments ADD COLUMN IF NOT EXISTS version int NOT NULL DEFAULT 1;
ALTER TABLE {s}.appointments ADD COLUMN IF NOT EXISTS release_minutes int;
ALTER TABLE {s}.appointments ADD COLUMN IF NOT EXISTS confirmed boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS appointments_awaiting_confirmation ON {s}.appointments (start_at)
    WHERE status = 'booked' AND release_minutes IS NOT NULL AND NOT confirmed;
CREATE INDEX IF NOT EXISTS appointments_by_patient ON {s}.appointments (patient_id, start_at);
CREATE INDEX IF NOT EXISTS appointments_by_provider ON {s}.appointments (provider_id, start_at);
CREATE INDEX IF NOT EXISTS appointments_by_clinic
    ON {s}.appointments (clinic_id, start_at, appointment_id);
CREATE INDEX IF NOT EXISTS appointments_booked_by_start ON {s}.appointments (start_at)
    WHERE status = 'booked'
"""
COLUMNS = ("appointment_id", "patient_id", "provider_id", "clinic_id", "service_id", "slot_id",
           "start_at", "end_at", "modality", "status", "late_cancellation", "reason",
           "booked_at", "updated_at", "version")


class AppointmentsReadModel(TrackedReadModel):
    """Appointments, and the PHI-free patients registry, in one transaction per batch."""

    name = "appointments"
    DDL = DDL + ";" + PATIENTS_DDL
    TABLES = ("appointments", "patients")
    reads_phi = True  # the visit reason, sealed again under its own context

    def apply(self, curs: Cursor[DictRow], events: Sequence[Any], now: datetime) -> None:
        if self.phi is None:
            raise RuntimeError("the appointments read model needs the PHI cipher")
        apply_events(_Writer(curs, self.schema, self.phi), events)
        apply_patient_events(PatientsWriter(curs, self.schema), events)


def reason_context(appointment_id: UUID) -> str:
    return f"appointments.reason:{appointment_id}"


class _Writer:
    def __init__(self, curs: Cursor[DictRow], schema: str, phi: PhiCipher) -> None:
        self.curs, self.s, self.phi = curs, schema, phi

    def insert(self, row: dict[str, Any]) -> None:
        row = {**row, "reason": self._sealed(row["patient_id"], row["appointment_id"],
                                             row["reason"])}
        names = ", ".join(COLUMNS)
        values = ", ".join(f"%({c})s" for c in COLUMNS)
        self.curs.execute(sql.SQL(
            f"INSERT INTO {self.s}.appointments ({names}) VALUES ({values}) "
            "ON CONFLICT (appointment_id) DO NOTHING"), row)

    def update(self, appointment_id: UUID, changes: dict[str, Any],
               reschedules: int = 0) -> None:
        sets = [f"{column} = %({column})s" for column in changes]
        sets.append("reschedule_count = reschedule_count + %(reschedules)s")
        self.curs.execute(sql.SQL(
            f"UPDATE {self.s}.appointments SET {', '.join(sets)} "
            "WHERE appointment_id = %(appointment_id)s"),
            {**changes, "reschedules": reschedules, "appointment_id": appointment_id})

    def forget_patient(self, patient_id: UUID) -> None:
        self.curs.execute(sql.SQL(
            f"UPDATE {self.s}.appointments SET reason = '' WHERE patient_id = %s"), (patient_id,))

    def _sealed(self, patient_id: UUID, appointment_id: UUID, reason: str) -> str:
        if not reason or reason == ERASED:
            return ""
        try:
            return self.phi.seal(patient_id, reason, reason_context(appointment_id))
        except SubjectErasedError:  # replaying the log of an erased patient
            return ""
