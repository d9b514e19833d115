"""Export (issue "Compliance officers", item 6): a window of the log and its access records
as jsonl, csv and FHIR R4 AuditEvents, with a proof beside it that the documented script
checks offline against the signed checkpoint; an edited, dropped or reordered exported
event fails that check; the FHIR export validates with HAPI FHIR's instance validator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from commands.ports import AuditEntry
from domain.patients import ErasureBasis
from infra.postgres.audit_export import export
from infra.postgres.audit_log import AuditConfig
from infra.postgres.read_models import read_model
from infra.settings import Settings
from infra.wiring.audit import audit_config, audit_signer
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.builders import ALL_DAY, build_world, first_slot, rules
from tests.driver import drive
from tests.harness.fhir_validator import errors

SCRIPT = Path(__file__).parents[2] / "docs" / "compliance" / "verify_export.py"


def _follow(container: Container, settings: Settings) -> None:
    assert settings.database_url
    base = audit_config(settings)
    config = AuditConfig(base.signer, base.origin, every_events=10, every_seconds=3600)
    for name in ("audit_log", "audit_timeline"):
        model = read_model(name, settings.database_url, settings.db_schema, audit=config)
        try:
            CatchUpRunner(container.app, model, batch_size=7).catch_up()
        finally:
            model.datastore.close()


@pytest.fixture
def history(container: Container, settings: Settings) -> tuple[datetime, datetime]:
    """A directory, a patient who books, is read, cancels and is erased; returns a moment in
    the middle of it and the end."""
    app = drive(container)
    world = build_world(app)
    doctor, clinic = world.second_provider, world.second_clinic
    app.publish_availability(doctor, clinic, rules(ALL_DAY, min_notice_minutes=0))
    patient = app.ready_patient("Exagivenmark", "Portfamilymark", "export@example.org")
    middle = datetime.now(UTC)
    slot = first_slot(app, doctor, clinic, world.checkup, datetime.now(UTC) + timedelta(days=2))
    visit = app.book(patient, slot, "Rsnexport", datetime.now(UTC)).id
    container.audit.record(AuditEntry(
        actor="desk-1", role="front_desk", action="read", resource="GET /bookings/{id}",
        purpose="operations", outcome="allowed", status=200, request_id="r-1",
        patient_id=patient, record_id=str(visit)), AuditEntry(
        actor="anonymous", role="anonymous", action="denied", resource="GET /patients/{id}",
        purpose="patient-request", outcome="denied", status=401, request_id="r-2",
        detail="unauthenticated"))
    app.cancel(visit, datetime.now(UTC))
    for n in range(3):
        app.register_patient("More", f"Ev{n}", date(1990, 1, 1), f"m{n}@example.org", None)
    app.record_erasure(patient, ErasureBasis.request)
    app.shred_personal_data(patient)
    _follow(container, settings)
    return middle, datetime.now(UTC) + timedelta(seconds=1)


def _check(path: Path, settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(path),
                           audit_signer(settings).verifier_key()],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "fhir", "fhir-bundle"])
def test_an_export_verifies_offline_against_its_checkpoint(
        history: tuple[datetime, datetime], settings: Settings, tmp_path: Path,
        fmt: str) -> None:
    middle, end = history
    assert settings.database_url
    out = tmp_path / f"export.{fmt}"
    done = export(settings.database_url, settings.db_schema, middle, end, fmt, out,
                  site="clinic-test")
    assert done.changes > 10 and done.accesses == 2 and done.proof is not None
    assert done.plan.first is not None and done.plan.first > 1  # a window, not the whole log
    proof = json.loads(done.proof.read_text())
    assert proof["hashes"] and proof["checkpoint"].startswith(settings.audit_origin)
    checked = _check(out, settings)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"ok: {done.changes - done.plan.left_out} events")
    text = out.read_text()
    for phi in ("Rsnexport", "Exagivenmark", "Portfamilymark", "export@example.org"):
        assert phi not in text  # sealed bytes and ids only


def test_an_edited_dropped_or_moved_exported_event_fails_the_check(
        history: tuple[datetime, datetime], settings: Settings, tmp_path: Path) -> None:
    middle, end = history
    assert settings.database_url
    out = tmp_path / "export.jsonl"
    export(settings.database_url, settings.db_schema, middle, end, "jsonl", out, site="t")
    lines = out.read_text().splitlines()
    changes = [n for n, line in enumerate(lines) if '"kind": "change"' in line]
    edited = json.loads(lines[changes[3]])
    edited["version"] += 1
    dropped = [line for n, line in enumerate(lines) if n != changes[-1]]
    moved = list(lines)
    moved[changes[1]], moved[changes[2]] = moved[changes[2]], moved[changes[1]]
    first, second = json.loads(moved[changes[1]]), json.loads(moved[changes[2]])
    first["tree_index"], second["tree_index"] = second["tree_index"], first["tree_index"]
    moved[changes[1]], moved[changes[2]] = json.dumps(first), json.dumps(second)
    for name, tampered in (("edited", [*lines[:changes[3]], json.dumps(edited),
                                       *lines[changes[3] + 1:]]),
                           ("dropped", dropped), ("moved", moved)):
        out.write_text("\n".join(tampered) + "\n")
        checked = _check(out, settings)
        assert checked.returncode != 0, name
        assert "FAILED" in checked.stdout + checked.stderr, name


def test_the_fhir_export_is_valid_fhir_r4(history: tuple[datetime, datetime],
                                          settings: Settings, tmp_path: Path) -> None:
    _, end = history
    assert settings.database_url
    ndjson, bundle = tmp_path / "audit.ndjson", tmp_path / "audit.json"
    start = datetime(2000, 1, 1, tzinfo=UTC)
    export(settings.database_url, settings.db_schema, start, end, "fhir", ndjson, site="t")
    export(settings.database_url, settings.db_schema, start, end, "fhir-bundle", bundle,
           site="t")
    events = [json.loads(line) for line in ndjson.read_text().splitlines()]
    kinds = {e["subtype"][0]["code"] for e in events}
    assert kinds == {"create", "update", "delete", "read"}
    patient_centric = [e for e in events if any(
        x.get("role", {}).get("code") == "1" for x in e["entity"])]
    assert patient_centric and all(
        x["what"]["reference"].startswith("Patient/") for e in patient_centric
        for x in e["entity"] if x.get("role"))
    found = errors(ndjson, bundle)
    assert found == [], "\n".join(map(str, found[:20]))


def test_clinic_audit_export_writes_the_file_and_its_proof(
        history: tuple[datetime, datetime], settings: Settings, tmp_path: Path) -> None:
    middle, _ = history
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
        "CLINIC_DATA_DIR": str(tmp_path), "CLINIC_DATABASE_URL": str(settings.database_url),
        "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema}
    out = tmp_path / "window.csv"
    done = subprocess.run([sys.executable, "-m", "infra.cli.main", "audit", "export",
                           "--from", middle.isoformat(), "--format", "csv", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "access records" in done.stdout and "proof" in done.stdout
    assert _check(out, settings).returncode == 0
    refused = subprocess.run([sys.executable, "-m", "infra.cli.main", "audit", "export",
                              "--from", "2026-12-02", "--to", "2026-12-01", "--out",
                              str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--to must come after --from" in refused.stderr
