"""Build the event-sourced application with its PHI protection: the one way to get one."""

from __future__ import annotations

from psycopg import sql

from commands.application import ClinicApplication
from infra.crypto.derived_keys import EMAIL_INDEX_SUBJECT, key_ring
from infra.crypto.kek import KeyEncryptionKeyError
from infra.crypto.phi import PhiCipher
from infra.eventstore.mapper import ClinicMapper
from infra.eventstore.recorder import eventsourcing_env
from infra.postgres.data_keys import PostgresDataKeys
from infra.postgres.tables import ensure_schema
from infra.settings import Settings

FOLLOWER_POOL = 2  # a log follower is one thread (and its listener's listening connection)


def build_application(settings: Settings, *, open_phi: bool = True,
                      pool_size: int = 10) -> ClinicApplication:
    """Fails loudly (KeyEncryptionKeyError) if the configured KEKs cannot open the stored
    data keys: never a silent start with a wrong key. `open_phi=False`: a follower that reads
    events with their PHI still sealed and records none (infra/eventstore/mapper.py). `pool_size`:
    connections opened at once (twice that at most); FOLLOWER_POOL for a log follower, so
    that API workers and followers together stay within PostgreSQL's max_connections."""
    assert settings.database_url
    keys = open_data_keys(settings)
    try:
        keys.verify()
        cipher = PhiCipher(keys)
        app = ClinicApplication(
            env=eventsourcing_env(settings.database_url, settings.db_schema, pool_size),
            data_keys=cipher)
        if not keys.has_key(EMAIL_INDEX_SUBJECT) and _has_patients(keys, settings.db_schema):
            raise KeyEncryptionKeyError(
                "patients are on record but phi_data_keys holds no keys: restore the key "
                "table that belongs to these events (starting now would lose every patient)")
    except BaseException:
        keys.close()
        raise
    protect(app, cipher)
    assert isinstance(app.mapper, ClinicMapper)
    app.mapper.open_phi = open_phi
    return app


def _has_patients(keys: PostgresDataKeys, schema: str) -> bool:
    with keys.pool.connection() as conn:
        row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.clinic_events WHERE topic "
                                   "LIKE 'domain.patients:Patient%%')")
                           .format(sql.Identifier(schema))).fetchone()
    return bool(row and row[0])


def protect(app: ClinicApplication, cipher: PhiCipher) -> None:
    """Give the application's mapper (events and snapshots) the PHI cipher."""
    if not isinstance(app.mapper, ClinicMapper):
        raise TypeError("the application must use infra.eventstore.mapper.ClinicMapper")
    app.mapper.phi = cipher


def open_data_keys(settings: Settings) -> PostgresDataKeys:
    """The data-key store of the resolved database, under the configured KEKs (unverified:
    `clinic keys status` must be able to show keys no configured KEK opens)."""
    assert settings.database_url, "resolve the database first (infra/wiring/servers.py)"
    ensure_schema(settings.database_url, settings.db_schema)
    return PostgresDataKeys(settings.database_url, settings.db_schema, key_ring(settings))


def check_keys(settings: Settings) -> None:
    """Start-up check for processes that build the application later (API workers):
    KeyEncryptionKeyError now, with a clear message, rather than a worker failing."""
    keys = open_data_keys(settings)
    try:
        keys.verify()
    finally:
        keys.close()
