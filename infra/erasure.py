"""Erasure by crypto-shredding, and the retention policy that calls for it (docs/privacy.md).

Order matters and every step can be repeated: the PHI-free `Erased` event is saved (from
then on the patient is refused everywhere, new bookings included); once the appointments
projection has caught up, their upcoming visits are cancelled (providers get the time
back); the data key is destroyed; caches, sessions and mailbox are purged. A crash between
steps leaves an erasure that a retry, or the next retention run, completes. Read models drop
what they keep for the patient when their projector sees the `Erased` event.
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog

from domain.appointments import InvalidTransitionError
from domain.patients import ErasureBasis
from infra.container import Container

DAYS_PER_YEAR = 365.2425
log = structlog.get_logger("clinic.erasure")


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
    failed: list[UUID] = field(default_factory=list)


def erase_patient(container: Container, patient_id: UUID, basis: ErasureBasis) -> Erasure:
    """Run inside the caller's command context (who asked, and why)."""
    recorded = container.app.record_erasure(patient_id, basis)
    if not _appointments_caught_up(container):
        log.warning("appointments projection behind; cancelling the visits it knows",
                    patient_id=str(patient_id))
    cancelled = _cancel_upcoming_visits(container, patient_id)
    container.app.shred_personal_data(patient_id)
    sessions = container.sessions.end_all(patient_id)
    container.codes.revoke(patient_id)
    container.holds.release_all(f"patient:{patient_id}")
    if container.mailbox is not None:
        container.mailbox.forget(patient_id)
    return Erasure(patient_id, recorded, sessions, cancelled)


def _appointments_caught_up(container: Container, timeout: float = 5.0) -> bool:
    """Wait until the appointments read model has seen everything recorded so far (a
    booking that raced the erasure included)."""
    head = container.app.recorder.max_notification_id() or 0
    deadline = time.monotonic() + timeout
    while True:
        with container.pool.connection() as conn:
            row = conn.execute("SELECT max(notification_id) FROM appointments_tracking "
                               "WHERE application_name = %s", (container.app.name,)).fetchone()
        if row and (row[0] or 0) >= head:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


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
    """Patients whose last activity, and every visit, ended before `cutoff`; and erasures
    left unfinished (key not shredded, or a visit still booked)."""
    with container.pool.connection() as conn:
        rows = conn.execute("""
            SELECT p.patient_id FROM patients p
            WHERE p.erased_at IS NULL AND p.last_activity_at < %(cutoff)s
              AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.patient_id = p.patient_id
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


def run_retention(container: Container, now: datetime, *, dry_run: bool,
                  limit: int = 10_000) -> RetentionRun:
    run = RetentionRun(cutoff=retention_cutoff(container, now), dry_run=dry_run)
    run.candidates = retention_candidates(container, run.cutoff, limit)
    if dry_run:
        return run
    for patient_id in run.candidates:
        try:
            run.erased.append(erase_patient(container, patient_id, ErasureBasis.retention))
        except Exception:  # one patient's failure must not stop the others
            log.exception("erasure failed; the next run retries", patient_id=str(patient_id))
            run.failed.append(patient_id)
    if run.erased:
        container.phi.keys.vacuum()
    return run
