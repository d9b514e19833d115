"""The PHI data keys in PostgreSQL (`phi_data_keys`): one row per patient, wrapped by the
key-encryption key; a shredded key leaves a tombstone row (infra/crypto/datakeys.py)."""

from __future__ import annotations

from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from infra.crypto.datakeys import TOMBSTONE, DataKeys, KeyStatus, SubjectErasedError, Tombstone
from infra.crypto.kek import KeyRing
from infra.postgres.tables import run_ddl

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

    def _load(self, subject: UUID) -> bytes | Tombstone | None:
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
                ) -> bytes | Tombstone:
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
