"""The `clinic` command as a person uses it: serve on the embedded default, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.embedded.process import free_port
from infra.settings import Settings
from tests.driver import drive

CLINIC = [sys.executable, "-m", "infra.cli.main"]


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env["CLINIC_DATA_DIR"] = str(data_dir)
    return env


def test_token_issue_prints_a_token_the_api_accepts() -> None:
    out = subprocess.run([*CLINIC, "token", "issue", "--role", "front_desk", "--subject", "fd-1"],
                         capture_output=True, text=True, check=True).stdout.strip()
    from infra.auth.tokens import TokenService

    settings = Settings()
    service = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
    principal = service.verify(out)
    assert principal.subject == "fd-1" and principal.role.value == "front_desk"


def test_token_issue_explains_bad_input() -> None:
    result = subprocess.run([*CLINIC, "token", "issue", "--role", "admin", "--subject", "x",
                             "--ttl", "0"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "ttl must be between" in result.stderr and "Traceback" not in result.stderr
    bad_role = subprocess.run([*CLINIC, "token", "issue", "--role", "root", "--subject", "x"],
                              capture_output=True, text=True)
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_runs_on_the_embedded_default_and_stops_its_servers(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    proc = subprocess.Popen([*CLINIC, "serve", "--port", str(port)], env=_clean_env(data_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ready = None
        for _ in range(300):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert ready is not None and ready.status_code == 200, proc.stderr
        assert ready.json()["status"] == "ready"
        pg_pid = int((data_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text().split()[0])
    finally:
        proc.send_signal(stop_signal)
        stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, stderr[-2000:]
    for pid in (pg_pid, redis_pid):
        assert not Path(f"/proc/{pid}").exists(), f"child server {pid} still running"


def test_retention_and_a_wrong_key_encryption_key_on_the_embedded_default(
        tmp_path: Path) -> None:
    """`clinic retention run --dry-run` starts on the embedded default and previews (an empty
    database: no one); a wrong KEK stops `serve` with a message. Erasing for real, by the
    CLI and the endpoint: tests/e2e/test_retention.py."""
    env = _clean_env(tmp_path / "data")
    preview = subprocess.run([*CLINIC, "retention", "run", "--dry-run"], env=env,
                             capture_output=True, text=True)
    assert preview.returncode == 0, preview.stderr
    assert "would erase 0 patient(s)" in preview.stdout
    wrong = subprocess.run([*CLINIC, "keys", "generate"], capture_output=True, text=True,
                           check=True).stdout.strip()
    refused = subprocess.run([*CLINIC, "serve", "--port", str(free_port())],
                             env={**env, "CLINIC_PHI_KEK": wrong}, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2
    assert "is not configured" in refused.stderr and "Traceback" not in refused.stderr


def test_relay_publishes_and_serves_its_own_metrics(settings: Settings, container: Any,
                                                   tmp_path: Path) -> None:
    """`clinic relay --metrics-port`: the counters only the relay process keeps, scraped."""
    drive(container).register_patient("Ida", "Moe", date(1990, 1, 1), "ida@example.org", None)
    port = free_port()
    env = _clean_env(tmp_path / "relay-data") | {
        "CLINIC_DATABASE_URL": str(settings.database_url),
        "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema}
    proc = subprocess.Popen([*CLINIC, "relay", "--metrics-port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        published = ""
        for _ in range(300):
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.TransportError:
                text = ""
            published = next((line for line in text.splitlines() if line.startswith(
                'clinic_relay_messages_published_total{topic="clinic.patients.v1"}')), "")
            if published:
                break
            time.sleep(0.1)
        assert published.endswith(" 1.0"), published  # the sign-in code request
        assert "clinic_relay_publish_failures_total 0.0" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
