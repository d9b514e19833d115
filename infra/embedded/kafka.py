"""A real single-node Kafka broker, started and stopped through infra/kafka/kafka.sh."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
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


@dataclass(frozen=True)
class BrokerTls:
    """An SSL listener: the broker's certificate and key, and the CA its clients' certificates
    must be signed by (client_auth "required": mutual TLS). PEM files, no Java keystores."""

    cert: Path
    key: Path
    ca: Path
    client_auth: str = "required"


class EmbeddedKafka:
    def __init__(self, folder: Path, *, port: int | None = None,
                 tls: BrokerTls | None = None, nice: int = 10,
                 cluster_id: str | None = None) -> None:
        """cluster_id: the KRaft cluster id a first start formats the folder with (the
        nodes of one cluster share it; unset, kafka.sh makes a random one)."""
        self.folder = folder.resolve()
        self.cluster_id = cluster_id
        self.nice = nice  # a local broker shares the machine with the API (decision 0025)
        self.port = port or free_port()
        self.controller_port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def tls_bootstrap(self) -> str:
        """The SSL listener (beside the PLAINTEXT one the broker itself uses)."""
        assert self.tls_port is not None, "started without BrokerTls"
        return f"127.0.0.1:{self.tls_port}"

    def _write_tls_properties(self, tls: BrokerTls) -> None:
        """kafka.sh appends DIR/extra.properties to the broker's configuration."""
        self.folder.mkdir(parents=True, exist_ok=True)
        keystore = self.folder / "broker-keystore.pem"  # key first, then the certificate chain
        keystore.touch(mode=0o600)
        keystore.write_text(tls.key.read_text() + tls.cert.read_text())
        plain, ssl, ctrl = self.port, self.tls_port, self.controller_port
        (self.folder / "extra.properties").write_text(
            f"listeners=PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{ssl},"
            f"CONTROLLER://127.0.0.1:{ctrl}\n"
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{ssl}\n"
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT\n"
            f"ssl.keystore.type=PEM\nssl.keystore.location={keystore}\n"
            f"ssl.truststore.type=PEM\nssl.truststore.location={tls.ca}\n"
            f"ssl.client.auth={tls.client_auth}\n"
        )

    def start(self) -> EmbeddedKafka:
        missing = missing_prerequisites()
        if missing:
            raise RuntimeError("Kafka needs: " + ", ".join(missing))
        if self.tls is not None:
            self._write_tls_properties(self.tls)
        subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.folder), str(self.port),
             str(self.controller_port)],
            check=True, env={**os.environ, "KAFKA_NICE": str(self.nice),
                             **({"KAFKA_CLUSTER_ID": self.cluster_id} if self.cluster_id else {})},
        )
        return self

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.folder)], check=False)

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
