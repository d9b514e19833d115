"""Fakes for unit tests only: each subclasses the real port it stands in for."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands.application import ClinicApplication
from infra.application import protect
from infra.crypto.datakeys import TOMBSTONE, DataKeys, SubjectErasedError
from infra.crypto.phi import PhiCipher


class InMemoryDataKeys(DataKeys):
    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[UUID, bytes | None] = {}

    def _load(self, subject: UUID) -> Any:
        if subject not in self.stored:
            return None
        return self.stored[subject] or TOMBSTONE

    def _create(self, subject: UUID, key: bytes) -> bytes:
        if subject in self.stored and self.stored[subject] is None:
            raise SubjectErasedError(str(subject))
        return self.stored.setdefault(subject, key) or key

    def _shred(self, subject: UUID) -> None:
        self.stored[subject] = None


def in_memory_application(*, snapshots: bool = False, **options: Any) -> ClinicApplication:
    """The application on eventsourcing's in-memory (POPO) store, PHI sealed as in prod."""
    cipher = PhiCipher(InMemoryDataKeys())
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo",
           "MAPPER_TOPIC": "infra.mapper:ClinicMapper",
           "IS_SNAPSHOTTING_ENABLED": "y" if snapshots else "n"}
    app = ClinicApplication(env=env, data_keys=cipher, **options)
    protect(app, cipher)
    return app
