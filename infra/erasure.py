"""Erasure by crypto-shredding, and the retention policy that calls for it (docs/privacy.md).

Order matters and every step can be repeated: upcoming visits are cancelled (the providers
get their time back), the PHI-free `Erased` event is saved, the patient's data key is
destroyed, then caches and sessions are purged. A crash between steps leaves an erasure that
a retry (or the next run) completes. Read models drop what they keep for the patient when
their projector sees the `Erased` event.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.appointments import InvalidTransitionError
from domain.patients import ErasureBasis, PatientErasedError
from infra.container import Container
from infra.notifications import DevMailbox

DAYS_PER_YEAR = 365.2425


@dataclass(frozen=True)
class Erasure:
    patient_id: UUID
    recorded: bool  # False: it had been recorded before (this run completed it)
    sessions_ended: int
    visits_cancelled: int  # upcoming visits given back to the providers first


@dataclass
class RetentionRun:
    cutoff: datetime
    dry_run: bool
    candidates: list[UUID] = field(default_factory=list)
    erased: list[Erasure] = field(default_factory=list)


def erase_patient(container: Container, patient_id: UUID, basis: ErasureBasis) -> Erasure:
    """Run inside the caller's command context (who asked, and why)."""
    email: str | None = None
    with suppress(PatientErasedError):  # recorded before: finish the job
        email = container.app.patient(patient_id).email
    cancelled = _cancel_upcoming_visits(container, patient_id)
    recorded = container.app.erase_patient(patient_id, basis)
    sessions = container.sessions.end_all(patient_id)
    container.codes.revoke(patient_id)
    container.holds.release_all(f"patient:{patient_id}")
    if email and isinstance(container.code_sender, DevMailbox):
        container.code_sender.forget(email)
    return Erasure(patient_id, recorded, sessions, cancelled)


def _cancel_upcoming_visits(container: Container, patient_id: UUID) -> int:
    """A visit booked for someone who is no longer on record would hold the provider's
    time for no one: cancel it (the event log keeps the cancellation)."""
    now = datetime.now(UTC)
    with container.pool.connection() as conn:
        rows = conn.execute("SELECT appointment_id FROM appointments WHERE patient_id = %s "
                            "AND status = 'booked' AND start_at > %s",
                            (patient_id, now)).fetchall()
    cancelled = 0
    for (appointment_id,) in rows:
        with suppress(InvalidTransitionError):  # changed meanwhile (cancelled, started)
            container.app.cancel(appointment_id, now)
            cancelled += 1
    return cancelled


def retention_cutoff(container: Container, now: datetime) -> datetime:
    return now - timedelta(days=container.settings.retention_years * DAYS_PER_YEAR)


def retention_candidates(container: Container, cutoff: datetime, limit: int) -> list[UUID]:
    """Patients not erased whose last activity, and every visit, ended before `cutoff`."""
    with container.pool.connection() as conn:
        rows = conn.execute("""
            SELECT p.patient_id FROM patients p
            WHERE p.erased_at IS NULL AND p.last_activity_at < %(cutoff)s
              AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.patient_id = p.patient_id
                              AND greatest(a.end_at, a.updated_at) >= %(cutoff)s)
            ORDER BY p.last_activity_at LIMIT %(limit)s""",
            {"cutoff": cutoff, "limit": limit}).fetchall()
    return [row[0] for row in rows]


def run_retention(container: Container, now: datetime, *, dry_run: bool,
                  limit: int = 10_000) -> RetentionRun:
    run = RetentionRun(cutoff=retention_cutoff(container, now), dry_run=dry_run)
    run.candidates = retention_candidates(container, run.cutoff, limit)
    if dry_run:
        return run
    for patient_id in run.candidates:
        run.erased.append(erase_patient(container, patient_id, ErasureBasis.retention))
    if run.erased:
        container.phi.keys.vacuum()
    return run
