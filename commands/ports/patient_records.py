"""Who treats a patient, and what erasure and retention look up and destroy."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class CareTeam(Protocol):
    def treats(self, provider_subject: str, patient_id: UUID) -> bool:
        """Whether the patient has (or had) a visit with this provider."""

    def visits_at(self, clinic_ids: frozenset[UUID], patient_id: UUID) -> bool:
        """Whether the patient has (or had) a visit at one of these clinics."""


class PatientRecords(Protocol):
    """What erasure and retention look up in the read models."""

    def caught_up(self, head: int, timeout: float) -> bool:
        """Whether the appointments read model has seen the event log up to `head`."""

    def upcoming_visits(self, patient_id: UUID, now: datetime) -> list[UUID]: ...
    def retention_candidates(self, cutoff: datetime, limit: int) -> list[UUID]:
        """Patients inactive since `cutoff`, and erasures left unfinished."""

    def unverified_registrations(self, before: datetime, limit: int) -> list[UUID]:
        """Registrations made before `before` whose address the read model has never seen
        verified (the caller checks each against the event store)."""


class Mailbox(Protocol):
    def forget(self, patient_id: UUID) -> int:
        """Drop every kept message to a patient (erasure); returns how many."""


class PersonalDataKeys(Protocol):
    """Each patient's PHI is sealed with a key of their own (infra/crypto)."""

    def shred(self, subject: UUID) -> None:
        """Destroy the patient's key: their PHI becomes unreadable everywhere, for good."""

    def vacuum(self) -> None:
        """Forget destroyed keys' tombstones where the store allows it."""

    def close(self) -> None: ...
