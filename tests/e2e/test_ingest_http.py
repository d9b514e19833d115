"""Ingestion through its doors: POST /ingest/runs with a CSV file, the runs and their rejected
rows at GET /ingest/runs (admin only), and `clinic ingest` on the test's servers."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.settings import Settings
from tests.integration.ingest_support import EXAMPLES

CSV = {"Content-Type": "text/csv"}


def _post(client: TestClient, headers: dict[str, str], kind: str, body: bytes,
          **params: Any) -> Any:
    return client.post("/ingest/runs", headers=headers | CSV, content=body,
                       params={"kind": kind, **params})


def test_an_admin_uploads_a_file_and_reads_the_run_with_its_rejected_rows(
        client: TestClient, token_for: Any, project: Any) -> None:
    admin = token_for(Role.admin, "ops@clinic")
    body = (EXAMPLES / "clinics.csv").read_bytes() + \
        b"mars,Mars Base,1 Crater Rd,Olympus,MA,02110,US,Mars/Olympus,in_person,\n"
    created = _post(client, admin, "clinics", body, source="erp")
    assert created.status_code == 201, created.text
    run = created.json()
    assert created.headers["Location"] == f"/ingest/runs/{run['run_id']}"
    assert (run["rows_read"], run["applied"], run["rejected"], run["started_by"]) == \
        (3, 2, 1, "ops@clinic")
    listed = client.get("/ingest/runs", headers=admin).json()["runs"]
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    shown = client.get(f"/ingest/runs/{run['run_id']}", headers=admin).json()
    assert [(r["row"], r["column"], r["value"], r["rule"]) for r in shown["rejects"]] == \
        [(3, "time_zone", "Mars/Olympus", "iana-time-zone")]
    again = _post(client, admin, "clinics", body, source="erp").json()
    assert (again["applied"], again["unchanged"]) == (0, 2)
    project()
    assert [c["name"] for c in client.get("/clinics").json()] == \
        ["Harbor Clinic", "Lakeside Clinic"]


def test_an_unreadable_file_is_a_problem_naming_its_recorded_run(
        client: TestClient, token_for: Any) -> None:
    admin = token_for(Role.admin)
    refused = _post(client, admin, "services", b"id,title\n1,x\n")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["error"] == "ingest-source-invalid"
    assert "missing column(s) external_id" in problem["detail"]
    run = client.get(f"/ingest/runs/{problem['run_id']}", headers=admin).json()
    assert (run["status"], run["rows_read"]) == ("failed", 0)
    assert client.get("/ingest/runs/00000000-0000-4000-8000-000000000047",
                      headers=admin).status_code == 404


def test_only_the_admin_role_reaches_ingestion(client: TestClient, token_for: Any) -> None:
    for role in (Role.front_desk, Role.provider, Role.compliance, Role.analyst):
        assert _post(client, token_for(role), "clinics", b"").status_code == 403
        assert client.get("/ingest/runs", headers=token_for(role)).status_code == 403
    assert client.get("/ingest/runs").status_code == 401


def test_the_cli_ingests_a_file_and_prints_the_summary(settings: Settings,
                                                       container: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": str(settings.database_url),
            "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema,
            "CLINIC_DATA_DIR": str(settings.data_dir), "CLINIC_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "infra.cli.main", "ingest",
               str(EXAMPLES / "services.csv"), "--kind", "services"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[1].split()[:2] == ["rows", "read"] and lines[2].split()[:4] == \
        ["3", "3", "0", "0"], first.stdout
    again = subprocess.run([*command, "--dry-run"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.stdout.splitlines()[2].split()[:4] == ["3", "0", "3", "0"], again.stdout
    broken = subprocess.run([*command[:5], "--kind", "clinics"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert broken.returncode == 2 and "missing column(s)" in broken.stderr, broken.stderr
