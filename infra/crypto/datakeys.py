"""Per-patient data keys, stored apart from the events, wrapped by the key-encryption key.

Shredding a key keeps a tombstone row (no key material): a later write for that patient
fails instead of quietly creating a new key, and the erasure stays visible to operators.
Unwrapped keys are cached in the process for `CACHE_SECONDS`, so a shredded key may still
open PHI in another process for that long (the application refuses erased patients, and
nothing new is sealed for them). A subject with no row at all is an error, never "erased":
a lost key table must not pass for erasure.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from uuid import UUID

CACHE_SECONDS = 60.0
CACHE_MAX = 20_000


class SubjectErasedError(Exception):
    """The subject's key was shredded: nothing new may be written for them."""


class DataKeyMissingError(Exception):
    """No key was ever stored for a subject whose PHI is sealed: the key table was lost or
    restored apart from the events. Never read as 'erased': that would hide the loss."""


class Tombstone:
    """What a shredded subject's row holds instead of a key."""


TOMBSTONE = Tombstone()


@dataclass(frozen=True)
class KeyStatus:
    kek_id: str | None
    keys: int
    configured: bool


class DataKeys(ABC):
    """Where data keys live; a fake for unit tests subclasses this."""

    def __init__(self) -> None:
        self._cache: dict[UUID, tuple[bytes, float]] = {}
        self._shredding: set[UUID] = set()  # never cached again in this process
        self._lock = threading.Lock()

    def key_for(self, subject: UUID, *, create: bool, material: bytes | None = None
                ) -> bytes | None:
        """The subject's data key; created on first use when `create` (with `material` if
        given, else random). Once shredded: None to read, SubjectErasedError to write.
        DataKeyMissingError if there never was one and not `create`."""
        cached = self._cache.get(subject)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        if create and subject not in self._shredding:
            # Insert-or-read in one statement: a new patient's key costs one round trip.
            stored: bytes | Tombstone | None = self._create(subject,
                                                             material or os.urandom(32))
        else:
            stored = self._load(subject)
        if stored is TOMBSTONE or subject in self._shredding:
            if create:
                raise SubjectErasedError(f"{subject} was erased")
            return None
        if stored is None:
            raise DataKeyMissingError(f"no data key for {subject}: was phi_data_keys "
                                      "restored apart from the events?")
        assert isinstance(stored, bytes)
        with self._lock:
            if subject in self._shredding:  # shredded while we were reading
                return self.key_for(subject, create=create)
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[subject] = (stored, time.monotonic())
        return stored

    def has_key(self, subject: UUID) -> bool:
        """Whether a key (live or shredded) was ever stored for the subject."""
        return self._load(subject) is not None

    def shred(self, subject: UUID) -> None:
        """Destroy the subject's key material for good (idempotent)."""
        with self._lock:
            self._shredding.add(subject)
            self._cache.pop(subject, None)
        self._shred(subject)

    def close(self) -> None:  # noqa: B027 - optional hook: most stores hold no connections
        """Release connections, if any."""

    def vacuum(self) -> None:  # noqa: B027
        """Reclaim the space of shredded keys' old row versions, where there is any."""

    @abstractmethod
    def _load(self, subject: UUID) -> bytes | Tombstone | None:
        """The key, TOMBSTONE once shredded, None if none was ever stored."""

    @abstractmethod
    def _create(self, subject: UUID, key: bytes) -> bytes:
        """Store `key` unless one exists; return the stored one. SubjectErasedError if
        the subject was shredded."""

    @abstractmethod
    def _shred(self, subject: UUID) -> None: ...
