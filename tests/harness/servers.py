"""Session-wide real servers in temporary folders, on ephemeral loopback ports."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.embedded.kafka import EmbeddedKafka, missing_prerequisites
from infra.embedded.postgres import EmbeddedPostgres
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
def kafka_server() -> Iterator[EmbeddedKafka]:
    missing = missing_prerequisites()
    if missing:
        raise RuntimeError(INSTALL_HINT.format(missing=", ".join(missing)))
    with temporary_folder("clinic-kafka-") as folder, EmbeddedKafka(folder) as kafka:
        yield kafka
