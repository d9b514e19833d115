"""What the use cases look up in the read models: a provider's patients, a patient's visits
ahead, and who the retention policy applies to (ports in commands/ports/patient_records.py)."""

from __future__ import annotations

import time
from datetime import datetime
from uuid import UUID

from psycopg_pool import ConnectionPool


class PostgresCareTeam:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def treats(self, provider_subject: str, patient_id: UUID) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM appointments WHERE patient_id = %s "
                               "AND provider_id::text = %s)",
                               (patient_id, provider_subject)).fetchone()
        return bool(row and row[0])

    def visits_at(self, clinic_ids: frozenset[UUID], patient_id: UUID) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM appointments WHERE patient_id = %s "
                               "AND clinic_id = ANY(%s))",
                               (patient_id, list(clinic_ids))).fetchone()
        return bool(row and row[0])


class PostgresPatientRecords:
    def __init__(self, pool: ConnectionPool, application_name: str) -> None:
        self.pool, self.application_name = pool, application_name

    def caught_up(self, head: int, timeout: float) -> bool:
        """Wait until the appointments read model has seen everything up to `head` (a
        booking that raced an erasure included)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.pool.connection() as conn:
                row = conn.execute("SELECT max(notification_id) FROM appointments_tracking "
                                   "WHERE application_name = %s",
                                   (self.application_name,)).fetchone()
            if row and (row[0] or 0) >= head:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def upcoming_visits(self, patient_id: UUID, now: datetime) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT appointment_id FROM appointments WHERE patient_id = %s "
                                "AND status = 'booked' AND start_at > %s",
                                (patient_id, now)).fetchall()
        return [row[0] for row in rows]

    def retention_candidates(self, cutoff: datetime, limit: int) -> list[UUID]:
        """Patients whose last activity, and every visit, ended before `cutoff`; and
        erasures left unfinished (key not shredded, or a visit still booked)."""
        with self.pool.connection() as conn:
            rows = conn.execute("""
                SELECT p.patient_id FROM patients p
                WHERE p.erased_at IS NULL AND p.last_activity_at < %(cutoff)s
                  AND NOT EXISTS (SELECT 1 FROM appointments a
                                  WHERE a.patient_id = p.patient_id
                                  AND greatest(a.end_at, a.updated_at) >= %(cutoff)s)
                UNION
                SELECT p.patient_id FROM patients p
                WHERE p.erased_at IS NOT NULL AND (
                    EXISTS (SELECT 1 FROM phi_data_keys k WHERE k.subject_id = p.patient_id
                            AND k.wrapped IS NOT NULL)
                    OR EXISTS (SELECT 1 FROM appointments a WHERE a.patient_id = p.patient_id
                               AND a.status = 'booked' AND a.start_at > now()))
                LIMIT %(limit)s""", {"cutoff": cutoff, "limit": limit}).fetchall()
        return [row[0] for row in rows]

    def unverified_registrations(self, before: datetime, limit: int) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT patient_id FROM patients WHERE erased_at IS NULL "
                                "AND NOT email_verified AND registered_at < %s LIMIT %s",
                                (before, limit)).fetchall()
        return [row[0] for row in rows]
