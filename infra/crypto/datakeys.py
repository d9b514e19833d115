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

from psycopg import sql
from psycopg_pool import ConnectionPool

from infra.crypto.kek import KeyEncryptionKeyError, KeyRing
from infra.postgres.tables import run_ddl

CACHE_SECONDS = 60.0
CACHE_MAX = 20_000
DDL = """
CREATE TABLE IF NOT EXISTS {s}.phi_data_keys (
    subject_id uuid PRIMARY KEY,
    kek_id text,
    wrapped bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz,
    shredded_at timestamptz,
    CHECK ((wrapped IS NULL) = (shredded_at IS NOT NULL))
)
"""


class SubjectErasedError(Exception):
    """The subject's key was shredded: nothing new may be written for them."""


class DataKeyMissingError(Exception):
    """No key was ever stored for a subject whose PHI is sealed: the key table was lost or
    restored apart from the events. Never read as 'erased': that would hide the loss."""


class _Tombstone:
    """What a shredded subject's row holds instead of a key."""


TOMBSTONE = _Tombstone()


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
            stored: bytes | _Tombstone | None = self._create(subject,
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
    def _load(self, subject: UUID) -> bytes | _Tombstone | None:
        """The key, TOMBSTONE once shredded, None if none was ever stored."""

    @abstractmethod
    def _create(self, subject: UUID, key: bytes) -> bytes:
        """Store `key` unless one exists; return the stored one. SubjectErasedError if
        the subject was shredded."""

    @abstractmethod
    def _shred(self, subject: UUID) -> None: ...


class PostgresDataKeys(DataKeys):
    def __init__(self, database_url: str, schema: str, ring: KeyRing) -> None:
        super().__init__()
        self.ring = ring
        self.table = sql.SQL("{}.phi_data_keys").format(sql.Identifier(schema))
        # Autocommit: every statement here is one (the insert-or-read included), so no
        # BEGIN and COMMIT round trips around it.
        self.pool = ConnectionPool(database_url, min_size=1, max_size=4, open=True,
                                   kwargs={"autocommit": True}, name="phi-keys")
        with self.pool.connection() as conn:
            run_ddl(conn, sql.SQL(DDL).format(s=sql.Identifier(schema)).as_string(conn))

    def close(self) -> None:
        self.pool.close()

    def _load(self, subject: UUID) -> bytes | _Tombstone | None:
        with self.pool.connection() as conn:
            row = conn.execute(sql.SQL("SELECT kek_id, wrapped FROM {} WHERE subject_id = %s")
                               .format(self.table), (subject,)).fetchone()
        return None if row is None else self._opened(subject, row[0], row[1])

    def _create(self, subject: UUID, key: bytes) -> bytes:
        """Insert `key`, or read the key already stored, in one statement."""
        kek, wrapped = self.ring.wrap(subject, key)
        with self.pool.connection() as conn:
            row = conn.execute(sql.SQL(
                "WITH inserted AS (INSERT INTO {table} (subject_id, kek_id, wrapped) "
                "VALUES (%(s)s, %(k)s, %(w)s) ON CONFLICT (subject_id) DO NOTHING "
                "RETURNING subject_id) "
                "SELECT true, NULL, NULL FROM inserted UNION ALL "
                "SELECT false, kek_id, wrapped FROM {table} WHERE subject_id = %(s)s "
                "AND NOT EXISTS (SELECT 1 FROM inserted)").format(table=self.table),
                {"s": subject, "k": kek, "w": wrapped}).fetchone()
        if row is not None and row[0]:
            return key
        # Stored before: that key wins, ours is dropped. No row at all: a writer racing this
        # statement stored it, out of this statement's snapshot; read it now.
        stored = self._load(subject) if row is None else self._opened(subject, row[1], row[2])
        if not isinstance(stored, bytes):
            raise SubjectErasedError(f"{subject} was erased")
        return stored

    def _opened(self, subject: UUID, kek_id: str | None, wrapped: bytes | None
                ) -> bytes | _Tombstone:
        """A stored row's key, unwrapped; TOMBSTONE once shredded."""
        if wrapped is None:
            return TOMBSTONE
        assert kek_id is not None
        return self.ring.unwrap(subject, kek_id, bytes(wrapped))

    def _shred(self, subject: UUID) -> None:
        with self.pool.connection() as conn:
            conn.execute(sql.SQL(
                "INSERT INTO {} (subject_id, kek_id, wrapped, shredded_at) "
                "VALUES (%s, NULL, NULL, now()) ON CONFLICT (subject_id) DO UPDATE "
                "SET kek_id = NULL, wrapped = NULL, "
                "shredded_at = coalesce({}.shredded_at, now())")
                .format(self.table, self.table), (subject,))

    def vacuum(self) -> None:
        """Reclaim the space of shredded keys' old row versions (run after erasures)."""
        with self.pool.connection() as conn:
            conn.execute(sql.SQL("VACUUM {}").format(self.table))

    def status(self) -> list[KeyStatus]:
        """Data keys per key-encryption key (None: shredded)."""
        with self.pool.connection() as conn:
            rows = conn.execute(sql.SQL("SELECT kek_id, count(*) FROM {} GROUP BY kek_id "
                                        "ORDER BY kek_id NULLS LAST").format(self.table))
            known = self.ring.known_ids()
            return [KeyStatus(k, n, k is None or k in known) for k, n in rows.fetchall()]

    def verify(self) -> None:
        """Fail loudly unless every stored data key opens with a configured KEK."""
        with self.pool.connection() as conn:
            rows = conn.execute(sql.SQL(
                "SELECT DISTINCT ON (kek_id) kek_id, subject_id, wrapped FROM {} "
                "WHERE wrapped IS NOT NULL ORDER BY kek_id, created_at").format(self.table)
            ).fetchall()
        for kek, subject, wrapped in rows:
            self.ring.unwrap(subject, kek, bytes(wrapped))  # raises KeyEncryptionKeyError

    def rotate(self, batch: int = 500) -> int:
        """Re-wrap every data key under the current KEK; events are not touched."""
        done = 0
        current = self.ring.current_id
        while True:
            with self.pool.connection() as conn, conn.transaction():
                rows = conn.execute(sql.SQL(
                    "SELECT subject_id, kek_id, wrapped FROM {} WHERE wrapped IS NOT NULL "
                    "AND kek_id <> %s LIMIT %s FOR UPDATE SKIP LOCKED").format(self.table),
                    (current, batch)).fetchall()
                for subject, kek, wrapped in rows:
                    key = self.ring.unwrap(subject, kek, bytes(wrapped))
                    new_kek, rewrapped = self.ring.wrap(subject, key)
                    conn.execute(sql.SQL("UPDATE {} SET kek_id = %s, wrapped = %s, "
                                         "rotated_at = now() WHERE subject_id = %s")
                                 .format(self.table), (new_kek, rewrapped, subject))
            done += len(rows)
            if len(rows) < batch:
                return done


__all__ = ["TOMBSTONE", "DataKeyMissingError", "DataKeys", "KeyEncryptionKeyError",
           "KeyStatus", "PostgresDataKeys", "SubjectErasedError"]
