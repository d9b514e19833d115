"""A real single-node Kafka broker, started and stopped through infra/kafka/kafka.sh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from infra.embedded.process import free_port

SCRIPT = Path(__file__).resolve().parent.parent / "kafka" / "kafka.sh"


def missing_prerequisites() -> list[str]:
    """What a person must install before a Kafka broker can start here."""
    return [
        f"{tool} ({why})"
        for tool, why in (("java", "Java 17+"), ("mvn", "Apache Maven"), ("bash", "bash"))
        if shutil.which(tool) is None
    ]


class EmbeddedKafka:
    def __init__(self, folder: Path, *, port: int | None = None) -> None:
        self.folder = folder.resolve()
        self.port = port or free_port()
        self.controller_port = free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedKafka:
        missing = missing_prerequisites()
        if missing:
            raise RuntimeError("Kafka needs: " + ", ".join(missing))
        subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.folder), str(self.port),
             str(self.controller_port)],
            check=True,
        )
        return self

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.folder)], check=False)

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
