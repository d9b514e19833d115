"""Key-encryption keys on the real database: a wrong key stops start-up loudly, rotation keeps
every patient readable without rewriting an event, and the CLI does the rotation."""

from __future__ import annotations

import base64
import os
from datetime import date
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from infra.cli.main import main
from infra.crypto.kek import KeyEncryptionKeyError
from infra.settings import Settings
from infra.wiring.container import Container
from tests.driver import drive


def _kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _events_bytes(settings: Settings) -> list[bytes]:
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(f'SELECT state FROM "{settings.db_schema}".clinic_events').fetchall()
    return [bytes(r[0]) for r in rows]


def test_a_wrong_key_encryption_key_fails_at_start_up(settings: Settings) -> None:
    first = settings.model_copy(update={"phi_kek": SecretStr(_kek())})
    container = Container.build(first)
    drive(container).register_patient("Ada", "Byron", date(1980, 1, 1), "ada@example.org", None)
    container.close()
    with pytest.raises(KeyEncryptionKeyError, match="not configured"):
        Container.build(first.model_copy(update={"phi_kek": SecretStr(_kek())}))


def test_rotation_rewraps_data_keys_and_leaves_events_alone(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _kek(), _kek()
    before = settings.model_copy(update={"phi_kek": SecretStr(old)})
    container = Container.build(before)
    ids = [drive(container).register_patient("Ada", f"Byron{n}", date(1980, 1, 1),
                                          f"ada{n}@example.org", None)[0] for n in range(3)]
    container.close()
    stored = _events_bytes(before)

    key_file = tmp_path / "kek"
    key_file.write_text(new + "\n")
    assert settings.database_url
    for name, value in {"CLINIC_DATABASE_URL": settings.database_url,
                        "CLINIC_REDIS_URL": str(settings.redis_url),
                        "CLINIC_DB_SCHEMA": settings.db_schema,
                        "CLINIC_DATA_DIR": str(settings.data_dir),
                        "CLINIC_PHI_KEK_FILE": str(key_file),
                        "CLINIC_PHI_KEK_PREVIOUS": old}.items():
        monkeypatch.setenv(name, value)
    assert main(["keys", "rotate"]) == 0
    assert "re-wrapped 4 data keys" in capsys.readouterr().out  # 3 patients + email index

    after = settings.model_copy(update={"phi_kek_file": key_file})
    container = Container.build(after)  # the new key alone opens everything
    try:
        assert [drive(container).patient(i).family_name for i in ids] == [
            "Byron0", "Byron1", "Byron2"]
        assert drive(container).patient_for_email("ada1@example.org") == ids[1]
    finally:
        container.close()
    assert _events_bytes(after) == stored  # no event was rewritten
    with pytest.raises(KeyEncryptionKeyError):
        Container.build(before)  # the old key no longer opens the data keys
    monkeypatch.setenv("CLINIC_PHI_KEK_PREVIOUS", "")
    assert main(["keys", "status"]) == 0
    assert "4 data keys (configured)" in capsys.readouterr().out


def test_the_audit_stream_is_append_only(container: Container) -> None:
    from commands.ports import AuditEntry

    container.audit.record(AuditEntry(actor="a", role="admin", action="read", resource="GET /x",
                                      purpose="operations", outcome="allowed", status=200,
                                      request_id="r"))
    schema = container.settings.db_schema
    for statement in (f'UPDATE "{schema}".audit_events SET actor = \'b\'',
                      f'DELETE FROM "{schema}".audit_events',
                      f'TRUNCATE "{schema}".audit_events'):
        with container.pool.connection() as conn, pytest.raises(psycopg.errors.RaiseException):
            conn.execute(statement)  # type: ignore[arg-type]


def test_racing_first_uses_of_a_patient_key_agree_and_erasure_is_final(
        settings: Settings) -> None:
    import threading
    import uuid

    from infra.crypto.datakeys import SubjectErasedError
    from infra.crypto.derived_keys import key_ring
    from infra.postgres.data_keys import PostgresDataKeys
    from infra.postgres.tables import ensure_schema

    assert settings.database_url
    ensure_schema(settings.database_url, settings.db_schema)
    stores = [PostgresDataKeys(settings.database_url, settings.db_schema, key_ring(settings))
              for _ in range(6)]  # six processes: no shared cache
    subject, keys = uuid.uuid4(), []
    barrier = threading.Barrier(len(stores))

    def first_use(store: PostgresDataKeys) -> None:
        barrier.wait()
        keys.append(store.key_for(subject, create=True))

    threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(keys) == 6 and len(set(keys)) == 1 and keys[0] is not None
        later = PostgresDataKeys(settings.database_url, settings.db_schema, key_ring(settings))
        assert later.key_for(subject, create=True) == keys[0]  # stored: read, not replaced
        later.close()
        stores[0].shred(subject)
        assert stores[1].key_for(subject, create=False) in (None, keys[0])  # cached ≤ 60 s
        fresh = PostgresDataKeys(settings.database_url, settings.db_schema, key_ring(settings))
        assert fresh.key_for(subject, create=False) is None
        with pytest.raises(SubjectErasedError):
            fresh.key_for(subject, create=True)  # nothing new is ever sealed for them
        fresh.close()
    finally:
        for store in stores:
            store.close()


def test_a_lost_key_table_is_never_mistaken_for_erasure(settings: Settings) -> None:
    from infra.crypto.datakeys import DataKeyMissingError

    container = Container.build(settings)
    ada, _ = drive(container).register_patient("Ada", "Byron", date(1980, 1, 1),
                                            "ada@example.org", None)
    assert settings.database_url
    table = f'"{settings.db_schema}".phi_data_keys'
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {table} WHERE subject_id = %s", (ada,))  # type: ignore[arg-type]
    container.phi.keys._cache.clear()
    try:
        with pytest.raises(DataKeyMissingError):
            drive(container).patient(ada)  # fails loudly; never reads as "[erased]"
    finally:
        container.close()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {table}")  # type: ignore[arg-type]
    with pytest.raises(KeyEncryptionKeyError, match="holds no keys"):
        Container.build(settings)
