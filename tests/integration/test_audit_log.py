"""The event log is provably unaltered (issue "Compliance officers", tamper evidence): rows
changed directly in PostgreSQL, as an intruder with database access would, and
`clinic audit verify` names the first position that fails; an untouched log, and one after a
patient's key was shredded, verify clean."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from domain.patients import ErasureBasis
from domain.provenance import METADATA
from infra.postgres.audit_log import AuditConfig
from infra.postgres.audit_verify import verify_log
from infra.postgres.read_models import read_model
from infra.settings import Settings
from infra.wiring.audit import audit_config, audit_signer
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.builders import build_world
from tests.driver import drive


@pytest.fixture
def logged(container: Container, settings: Settings) -> Iterator[Callable[[], Any]]:
    """Some history (a directory, patients, a booking-free erasure), the audit follower run
    with a checkpoint every 10 events; yields a function that runs the follower again."""
    app = drive(container)
    build_world(app)
    for n in range(4):
        patient, _ = app.register_patient("Ada", f"Tamper{n}", date(1990, 1, 1),
                                          f"t{n}@example.org", None)
        app.verify_patient_email(patient)
    assert settings.database_url
    config = _config(settings)
    model = read_model("audit_log", settings.database_url, settings.db_schema, audit=config)

    def follow() -> int:
        return CatchUpRunner(container.app, model, batch_size=7).catch_up()

    follow()
    yield follow
    model.datastore.close()


def _config(settings: Settings) -> AuditConfig:
    base = audit_config(settings)
    return AuditConfig(base.signer, base.origin, every_events=10, every_seconds=3600)


def _verify(settings: Settings, exported: str | None = None) -> Any:
    assert settings.database_url
    return verify_log(settings.database_url, settings.db_schema,
                      [audit_signer(settings).verifier_key()], exported=exported)


def _sql(settings: Settings, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(str(settings.database_url)) as conn:
        conn.execute(f'SET search_path TO "{settings.db_schema}"')
        cursor = conn.execute(statement, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def _position_of(settings: Settings, notification_id: int) -> int:
    return int(_sql(settings, "SELECT tree_index FROM audit_leaves WHERE notification_id = %s",
                    notification_id)[0][0])


def _ids(settings: Settings) -> list[int]:
    return [r[0] for r in _sql(settings, "SELECT notification_id FROM clinic_events "
                                         "ORDER BY notification_id")]


def _latest_checkpoint(settings: Settings) -> str:
    return str(_sql(settings, "SELECT note FROM audit_checkpoints ORDER BY size DESC "
                              "LIMIT 1")[0][0])


def test_an_untouched_log_verifies_against_its_checkpoints(
        logged: Callable[[], Any], settings: Settings) -> None:
    result = _verify(settings, exported=_latest_checkpoint(settings))
    assert result.ok, result.failure
    assert result.covered == len(_ids(settings)) and result.checkpoints >= 3


def test_a_log_after_a_patients_key_was_shredded_verifies_clean(
        logged: Callable[[], Any], settings: Settings, container: Container) -> None:
    app = drive(container)
    patient, _ = app.register_patient("Erin", "Gone", date(1980, 1, 1), "erin@example.org",
                                      None)
    app.record_erasure(patient, ErasureBasis.request)
    app.shred_personal_data(patient)
    logged()
    assert _verify(settings, exported=_latest_checkpoint(settings)).ok


def _edit_payload(settings: Settings, victim: int, container: Container) -> None:
    _sql(settings, "UPDATE clinic_events SET state = overlay(state placing 'X'::bytea "
                   "from 12 for 1) WHERE notification_id = %s", victim)


def _edit_timestamp(settings: Settings, victim: int, container: Container) -> None:
    state = bytes(_sql(settings, "SELECT state FROM clinic_events WHERE notification_id = %s",
                       victim)[0][0])
    transcoder = container.app.mapper.transcoder
    decoded = transcoder.decode(state)
    decoded["timestamp"] = decoded["timestamp"] - timedelta(days=400)  # back-dated
    _sql(settings, "UPDATE clinic_events SET state = %s WHERE notification_id = %s",
         transcoder.encode(decoded), victim)


def _edit_metadata(settings: Settings, victim: int, container: Container) -> None:
    """Who did it and in which request: rewritten, the payload left as it was."""
    state = bytes(_sql(settings, "SELECT state FROM clinic_events WHERE notification_id = %s",
                       victim)[0][0])
    transcoder = container.app.mapper.transcoder
    decoded = transcoder.decode(state)
    meta = decoded[METADATA]
    assert meta["actor"] and "request_id" in meta  # what an intruder would want to change
    decoded[METADATA] = meta | {"actor": "someone-else", "request_id": "req-forged"}
    _sql(settings, "UPDATE clinic_events SET state = %s WHERE notification_id = %s",
         transcoder.encode(decoded), victim)


def _edit_topic(settings: Settings, victim: int, container: Container) -> None:
    _sql(settings, "UPDATE clinic_events SET topic = topic || 'x' WHERE notification_id = %s",
         victim)


def _delete(settings: Settings, victim: int, container: Container) -> None:
    _sql(settings, "DELETE FROM clinic_events WHERE notification_id = %s", victim)


def _insert_forged(settings: Settings, victim: int, container: Container) -> None:
    # A forged copy of the victim's row, slipped in before every real event.
    _sql(settings, "INSERT INTO clinic_events (originator_id, originator_version, topic, "
                   "state, notification_id) SELECT gen_random_uuid(), 1, topic, state, 0 "
                   "FROM clinic_events WHERE notification_id = %s", victim)


def _swap(settings: Settings, victim: int, container: Container) -> None:
    _sql(settings, "UPDATE clinic_events SET notification_id = -1 WHERE notification_id = %s",
         victim)
    _sql(settings, "UPDATE clinic_events SET notification_id = %s WHERE notification_id = %s",
         victim, victim + 1)
    _sql(settings, "UPDATE clinic_events SET notification_id = %s WHERE notification_id = -1",
         victim + 1)


@pytest.mark.parametrize("tamper", [_edit_payload, _edit_timestamp, _edit_metadata,
                                    _edit_topic, _delete, _swap],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_row_changed_in_postgresql_is_caught_at_its_position(
        logged: Callable[[], Any], settings: Settings, container: Container,
        tamper: Callable[[Settings, int, Container], None]) -> None:
    ids = _ids(settings)
    victim = ids[len(ids) // 2]
    position = _position_of(settings, victim)
    tamper(settings, victim, container)
    result = _verify(settings)
    assert not result.ok and result.position == position, (result.position, result.failure)


def test_an_inserted_row_is_caught(logged: Callable[[], Any], settings: Settings,
                                   container: Container) -> None:
    _insert_forged(settings, _ids(settings)[5], container)
    result = _verify(settings)
    assert not result.ok and result.position == 1, result.failure


def test_a_truncated_tail_is_caught_against_the_tree_and_an_exported_checkpoint(
        logged: Callable[[], Any], settings: Settings) -> None:
    exported = _latest_checkpoint(settings)
    covered = int(exported.split("\n")[1])  # what the checkpoint kept elsewhere covers
    ids = _ids(settings)
    kept = covered - 4
    _sql(settings, "DELETE FROM clinic_events WHERE notification_id > %s", ids[kept - 1])
    result = _verify(settings)
    assert not result.ok and result.position == kept + 1, result.failure
    # Even if the intruder also cut the tree and its checkpoints to match, the checkpoint
    # kept outside the database says how long the log was.
    _sql(settings, "DELETE FROM audit_leaves WHERE tree_index > %s", kept)
    _sql(settings, "DELETE FROM audit_checkpoints WHERE size > %s", kept)
    result = _verify(settings, exported=exported)
    assert not result.ok and "truncated" in str(result.failure), result.failure


def test_a_forged_checkpoint_signature_is_caught(
        logged: Callable[[], Any], settings: Settings) -> None:
    size, note = _sql(settings, "SELECT size, note FROM audit_checkpoints ORDER BY size "
                                "LIMIT 1")[0]
    body, _, signature = str(note).partition("\n\n")
    forged = body + "\n\n" + signature[:-6] + ("AAAA==" if not signature.endswith(
        "AAAA==\n") else "BBBB==") + "\n"
    _sql(settings, "UPDATE audit_checkpoints SET note = %s WHERE size = %s", forged, size)
    result = _verify(settings)
    assert not result.ok and "forged" in str(result.failure), result.failure


def test_an_edited_event_with_its_leaf_recomputed_is_caught_by_the_signed_root(
        logged: Callable[[], Any], settings: Settings, container: Container) -> None:
    """An intruder who also rewrites the tree's leaf cannot re-sign the checkpoint."""
    from projections.merkle import leaf_hash

    ids = _ids(settings)
    victim = ids[3]
    _edit_payload(settings, victim, container)
    row = _sql(settings, "SELECT notification_id, originator_id, originator_version, topic, "
                         "state FROM clinic_events WHERE notification_id = %s", victim)[0]
    _sql(settings, "UPDATE audit_leaves SET leaf = %s WHERE notification_id = %s",
         leaf_hash(row[0], row[1], row[2], row[3], bytes(row[4])), victim)
    result = _verify(settings)
    assert not result.ok and "checkpoint" in str(result.failure), result.failure


def test_clinic_audit_verify_exits_non_zero_and_names_the_position(
        logged: Callable[[], Any], settings: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
        "CLINIC_DATA_DIR": str(tmp_path), "CLINIC_DATABASE_URL": str(settings.database_url),
        "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema}
    cli = [sys.executable, "-m", "infra.cli.main", "audit"]
    exported = tmp_path / "checkpoint.txt"
    exported.write_text(subprocess.run([*cli, "checkpoint"], env=env, capture_output=True,
                                       text=True, check=True).stdout)
    clean = subprocess.run([*cli, "verify", "--checkpoint", str(exported)], env=env,
                           capture_output=True, text=True)
    assert clean.returncode == 0 and clean.stdout.startswith("ok:"), clean.stdout + clean.stderr
    victim = _ids(settings)[2]
    _sql(settings, "DELETE FROM clinic_events WHERE notification_id = %s", victim)
    broken = subprocess.run([*cli, "verify", "--checkpoint", str(exported)], env=env,
                            capture_output=True, text=True)
    assert broken.returncode == 1
    assert broken.stdout.startswith("FAILED at position 3:"), broken.stdout


def test_checkpoints_signed_before_a_key_rotation_verify_with_the_old_key_trusted(
        logged: Callable[[], Any], settings: Settings, container: Container) -> None:
    old_key = audit_signer(settings).verifier_key()
    rotated = settings.model_copy(update={
        "audit_signing_key": SecretStr(base64.b64encode(b"r" * 32).decode()),
        "audit_key_name": "clinic-booking-2027"})
    app = drive(container)
    for n in range(12):
        app.register_patient("Rota", f"Tion{n}", date(1990, 1, 1), f"r{n}@example.org", None)
    assert rotated.database_url
    model = read_model("audit_log", rotated.database_url, rotated.db_schema,
                       audit=_config(rotated))
    try:
        CatchUpRunner(container.app, model).catch_up()
    finally:
        model.datastore.close()
    new_key = audit_signer(rotated).verifier_key()
    assert new_key != old_key
    alone = verify_log(rotated.database_url, rotated.db_schema, [new_key])
    assert not alone.ok and "forged" in alone.failure  # the old checkpoints: not by this key
    both = verify_log(rotated.database_url, rotated.db_schema, [new_key, old_key],
                      exported=_latest_checkpoint(settings))
    assert both.ok, both.failure
    assert "clinic-booking-2027 " in _latest_checkpoint(settings)


def _verify_range(settings: Settings, first: int, last: int | None) -> Any:
    assert settings.database_url
    return verify_log(settings.database_url, settings.db_schema,
                      [audit_signer(settings).verifier_key()], first=first, last=last)


def test_verify_from_to_reports_a_tamper_inside_the_range_not_one_after_it(
        logged: Callable[[], Any], settings: Settings, container: Container) -> None:
    """`clinic audit verify --from F --to T`: events after T are not read at all."""
    ids = _ids(settings)
    assert len(ids) >= 20, len(ids)
    first, last = 8, len(ids) - 4
    beyond, inside = ids[-2], ids[12]
    _edit_payload(settings, beyond, container)
    assert _position_of(settings, beyond) > last
    clean = _verify_range(settings, first, last)
    assert clean.ok, clean.failure
    assert not _verify(settings).ok  # the whole log does see it
    _edit_payload(settings, inside, container)
    position = _position_of(settings, inside)
    assert first <= position <= last
    broken = _verify_range(settings, first, last)
    assert not broken.ok and broken.position == position, (broken.position, broken.failure)


def test_clinic_audit_verify_from_to_checks_only_that_range(
        logged: Callable[[], Any], settings: Settings, container: Container,
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
        "CLINIC_DATA_DIR": str(tmp_path), "CLINIC_DATABASE_URL": str(settings.database_url),
        "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema}
    ids = _ids(settings)
    victim = ids[12]
    position = _position_of(settings, victim)
    _edit_payload(settings, victim, container)

    def verify(first: int, last: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "infra.cli.main", "audit", "verify",
                               "--from", str(first), "--to", str(last)], env=env,
                              capture_output=True, text=True, timeout=120)

    before = verify(1, position - 1)
    assert before.returncode == 0 and before.stdout.startswith("ok:"), before.stdout
    inside = verify(position - 1, position + 2)
    assert inside.returncode == 1, inside.stdout + inside.stderr
    assert inside.stdout.startswith(f"FAILED at position {position}:"), inside.stdout


def test_verify_from_still_catches_a_tamper_before_it_at_the_checkpoint_covering_it(
        logged: Callable[[], Any], settings: Settings, container: Container) -> None:
    """Before --from events are not compared one by one, but the tree is still recomputed
    from the start: the first signed checkpoint that covers an edited event fails."""
    ids = _ids(settings)
    victim = ids[4]
    _edit_payload(settings, victim, container)
    covering = _sql(settings, "SELECT min(size) FROM audit_checkpoints WHERE size >= %s",
                    _position_of(settings, victim))[0][0]
    result = _verify_range(settings, 12, None)
    assert not result.ok and result.position == covering, (result.position, result.failure)
    assert "checkpoint" in str(result.failure)


def test_a_checkpoint_is_signed_when_its_interval_passed_not_only_every_n_events(
        container: Container, settings: Settings) -> None:
    """The time trigger alone (every_events far away): a checkpoint after every_seconds,
    from a batch of new events or from the follower's idle tick, and none before."""
    app = drive(container)
    build_world(app)
    now = [datetime(2026, 12, 7, 9, 0, tzinfo=UTC)]
    base = audit_config(settings)
    config = AuditConfig(base.signer, base.origin, every_events=1_000_000, every_seconds=60)
    assert settings.database_url
    model = read_model("audit_log", settings.database_url, settings.db_schema,
                       lambda: now[0], audit=config)

    def sizes() -> list[int]:
        return [r[0] for r in _sql(settings, "SELECT size FROM audit_checkpoints ORDER BY "
                                             "size")]

    def tree() -> int:
        return int(_sql(settings, "SELECT size FROM audit_frontier")[0][0])

    def later(seconds: int) -> None:
        now[0] += timedelta(seconds=seconds)

    try:
        runner = CatchUpRunner(container.app, model)
        runner.catch_up()
        assert sizes() == [tree()]  # the first one at once
        app.register_patient("Tick", "Tock", date(1990, 1, 1), "tick@example.org", None)
        later(30)
        runner.catch_up()
        assert sizes() == [sizes()[0]] and tree() > sizes()[0]  # new events, not yet due
        later(29)
        model.tick()
        assert len(sizes()) == 1  # 59 s: still not due
        later(2)
        model.tick()  # idle, 61 s after the last: signs what came since
        assert sizes()[-1] == tree() and len(sizes()) == 2
        model.tick()
        assert len(sizes()) == 2  # nothing new: nothing to sign
        app.register_patient("Tick", "Again", date(1990, 1, 1), "tock@example.org", None)
        later(10)
        runner.catch_up()
        assert len(sizes()) == 2
        later(60)
        app.register_patient("Tick", "Third", date(1990, 1, 1), "third@example.org", None)
        runner.catch_up()  # a batch 70 s after the last checkpoint: due by time
        assert sizes()[-1] == tree() and len(sizes()) == 3
        created = [r[0] for r in _sql(settings, "SELECT created_at FROM audit_checkpoints "
                                                "ORDER BY size")]
        assert [c - created[0] for c in created] == [timedelta(0), timedelta(seconds=61),
                                                     timedelta(seconds=131)]
    finally:
        model.datastore.close()
    assert _verify(settings).ok
