"""Erasure by crypto-shredding, and the retention policy that calls for it (docs/privacy.md).

Order matters and every step can be repeated: the PHI-free `Erased` event is saved (from
then on the patient is refused everywhere, new bookings included); once the appointments
projection has caught up, their upcoming visits are cancelled (providers get the time
back); the data key is destroyed; caches, sessions and mailbox are purged. A crash between
steps leaves an erasure that a retry, or the next retention run, completes. Read models drop
what they keep for the patient when their projector sees the `Erased` event.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from pydantic import Field

from commands.context import Actor, acting_as
from commands.models import Strict
from commands.patients import Patients
from commands.ports import Holds, Mailbox, OneTimeCodes, PatientRecords, Sessions
from commands.visits import Visits
from domain.appointments import InvalidTransitionError
from domain.errors import ForbiddenError
from domain.patients import ErasureBasis, Patient
from domain.privacy import ERASED

DAYS_PER_YEAR = 365.2425
log = structlog.get_logger("clinic.erasure")


class ErasureRequest(Strict):
    basis: Annotated[ErasureBasis, Field(description="Why: a patient's request or a legal "
                                                     "order (retention runs on its own)")]


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


class Erasing:
    def __init__(self, patients: Patients, visits: Visits, records: PatientRecords,
                 sessions: Sessions, codes: OneTimeCodes, holds: Holds,
                 mailbox: Mailbox | None) -> None:
        self.patients, self.app, self.visits = patients, patients.app, visits
        self.records, self.sessions, self.codes = records, sessions, codes
        self.holds, self.mailbox = holds, mailbox

    def erase(self, patient_id: UUID, command: ErasureRequest, actor: Actor) -> Erasure:
        """Erase a patient's PHI for good: the event log stays complete, its PHI unreadable.
        An admin scoped to clinics erases only patients with visits there."""
        self.patients.require_reachable(patient_id, actor)
        with acting_as(actor.doing(f"erasure: {command.basis.value}")):
            return self.erase_now(patient_id, command.basis)

    def erase_now(self, patient_id: UUID, basis: ErasureBasis) -> Erasure:
        """Within the caller's command context (who asked, and why)."""
        recorded = self.record(patient_id, basis)
        if not self.records.caught_up(self.app.recorder.max_notification_id() or 0, 5.0):
            log.warning("appointments projection behind; cancelling the visits it knows",
                        patient_id=str(patient_id))
        cancelled = self._cancel_upcoming_visits(patient_id)
        self.shred(patient_id)
        sessions = self.sessions.end_all(patient_id)
        self.codes.revoke(patient_id)
        self.holds.release_all(f"patient:{patient_id}")
        if self.mailbox is not None:
            self.mailbox.forget(patient_id)
        return Erasure(patient_id, recorded, sessions, cancelled)

    def record(self, patient_id: UUID, basis: ErasureBasis) -> bool:
        """The first step: a PHI-free event, and the email address freed. From here on the
        patient is refused everywhere. True if this call recorded it."""
        patient = self.app.get(Patient, patient_id, "patient")
        if patient.erased:
            return False
        changed: list[Aggregate] = [patient]
        if patient.email != ERASED:
            claim = self.patients.claim(patient.email)
            if claim is not None and claim.patient_id == patient_id:
                claim.release()
                changed.append(claim)
        patient.erase(basis)
        self.app.save(*changed)
        return True

    def shred(self, patient_id: UUID) -> None:
        """The point of no return: the patient's key is destroyed, so the PHI in every
        event, snapshot and read model about them is unreadable for good."""
        patient = self.app.get(Patient, patient_id, "patient")
        if not patient.erased:
            raise RuntimeError("record the erasure before shredding the key")
        if self.app.data_keys is not None:
            self.app.data_keys.shred(patient_id)

    def _cancel_upcoming_visits(self, patient_id: UUID) -> int:
        """A visit booked for someone who is no longer on record would hold the provider's
        time for no one: cancel it (the event log keeps the cancellation)."""
        now = datetime.now(UTC)
        cancelled = 0
        for appointment_id in self.records.upcoming_visits(patient_id, now):
            with suppress(InvalidTransitionError):  # changed meanwhile (cancelled, started)
                self.visits.cancel(appointment_id, now)
                cancelled += 1
        return cancelled


class Retention:
    def __init__(self, erasing: Erasing, records: PatientRecords, years: float,
                 unverified_days: float = 7) -> None:
        self.erasing, self.records, self.years = erasing, records, years
        self.unverified_days = unverified_days

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.years * DAYS_PER_YEAR)

    def run(self, actor: Actor, now: datetime, *, dry_run: bool,
            limit: int = 10_000) -> RetentionRun:
        """Erase patients whose last activity and every visit ended before the cutoff, and
        registrations never verified within `unverified_days` (an address squatted, or a
        sign-up abandoned); finish erasures left unfinished; `dry_run`: list them, erase
        no one."""
        if actor.clinics is not None:
            raise ForbiddenError("The retention run covers the whole network: an admin "
                                 "without a clinics claim runs it.")
        run = RetentionRun(cutoff=self.cutoff(now), dry_run=dry_run)
        inactive = self.records.retention_candidates(run.cutoff, limit)
        # The read model may lag (a follower stuck, decision 0036): a registration it still
        # shows unverified is erased only if the event store agrees it never was.
        unverified = self.records.unverified_registrations(
            now - timedelta(days=self.unverified_days), limit)
        found = self.erasing.app.get_many(*unverified)
        run.candidates = [*inactive, *(p for p in unverified if p not in inactive and
                                       isinstance(patient := found.get(p), Patient) and
                                       not patient.ever_verified and not patient.erased)][:limit]
        if dry_run:
            return run
        with acting_as(actor.doing("erasure: retention-policy")):
            for patient_id in run.candidates:
                try:
                    run.erased.append(self.erasing.erase_now(patient_id,
                                                             ErasureBasis.retention))
                except Exception:  # one patient's failure must not stop the others
                    log.exception("erasure failed; the next run retries",
                                  patient_id=str(patient_id))
                    run.failed.append(patient_id)
        if run.erased and self.erasing.app.data_keys is not None:
            self.erasing.app.data_keys.vacuum()
        return run

