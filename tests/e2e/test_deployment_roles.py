"""What the deployment relies on (docs/deployment.md): `clinic migrate` as the schema Job, and
the secrets and server URLs (with their passwords) read from mounted files (CLINIC_*_FILE)
rather than the environment."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from infra.settings import Settings

CLINIC = [sys.executable, "-m", "infra.cli.main"]
KEK = base64.b64encode(bytes(range(32))).decode()
SEED = base64.b64encode(bytes(range(32, 64))).decode()


def secret_files(folder: Path, jwt: str = "j" * 40) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"CLINIC_JWT_SECRET_FILE": ("jwt-secret", jwt),
             "CLINIC_PHI_KEK_FILE": ("phi-kek", KEK),
             "CLINIC_AUDIT_SIGNING_KEY_FILE": ("audit-signing-key", SEED)}
    env = {}
    for variable, (name, value) in files.items():
        (folder / name).write_text(value + "\n")
        (folder / name).chmod(0o400)
        env[variable] = str(folder / name)
    return env


def test_secrets_come_from_files_and_production_accepts_them(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    for variable in [k for k in os.environ if k.startswith("CLINIC_")]:
        monkeypatch.delenv(variable)
    env = secret_files(tmp_path / "secrets")
    for variable, value in {**env, "CLINIC_MODE": "production"}.items():
        monkeypatch.setenv(variable, value)
    settings = Settings()
    assert settings.jwt_secret.get_secret_value() == "j" * 40
    assert settings.audit_signing_key.get_secret_value() == SEED
    assert settings.phi_kek_value() == KEK

    (tmp_path / "secrets" / "jwt-secret").chmod(0o600)
    (tmp_path / "secrets" / "jwt-secret").write_text("too short\n")
    with pytest.raises(ValueError, match="CLINIC_JWT_SECRET must be at least 32"):
        Settings()
    monkeypatch.setenv("CLINIC_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="CLINIC_AUDIT_SIGNING_KEY_FILE cannot be read"):
        Settings()


def test_migrate_creates_the_schema_once_and_again(settings: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    (tmp_path / "database-url").write_text(f"{settings.database_url}\n")
    (tmp_path / "redis-url").write_text(f"{settings.redis_url}\n")
    env |= {"CLINIC_MODE": "production",
            "CLINIC_DATABASE_URL_FILE": str(tmp_path / "database-url"),
            "CLINIC_REDIS_URL_FILE": str(tmp_path / "redis-url"),
            "CLINIC_DB_SCHEMA": settings.db_schema,
            "CLINIC_DATA_DIR": str(tmp_path / "data"), **secret_files(tmp_path / "secrets")}
    for _ in range(2):  # idempotent: a re-run of the Job changes nothing
        done = subprocess.run([*CLINIC, "migrate"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"schema {settings.db_schema}: ready" in done.stdout
    with psycopg.connect(str(settings.database_url)) as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (settings.db_schema,))}
    assert {"clinic_events", "slot_search_tracking", "appointments_tracking"} <= tables, tables
    # A secret that the pod's files do not hold stops the Job with a message, not a trace.
    wrong = subprocess.run([*CLINIC, "migrate"], capture_output=True, text=True, timeout=120,
                           env={**env, "CLINIC_PHI_KEK_FILE": str(tmp_path / "nope")})
    assert wrong.returncode == 2 and "CLINIC_PHI_KEK_FILE cannot be read" in wrong.stderr
    assert "Traceback" not in wrong.stderr
