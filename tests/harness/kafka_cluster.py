"""A three-node KRaft Kafka cluster on loopback from the project's Maven jars: one node can be
SIGKILLed and started again on its own data folder, as a broker lost and brought back."""

from __future__ import annotations

import base64
import os
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka.admin import AdminClient

from infra.embedded.kafka import EmbeddedKafka, missing_prerequisites
from infra.embedded.process import wait_until
from tests.harness.servers import INSTALL_HINT, temporary_folder

NODES = 3
MIN_INSYNC = 2


def kraft_cluster_id() -> str:
    """A cluster id as `kafka-storage random-uuid` prints it (URL-safe base64, no padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class KafkaCluster:
    """Three combined broker+controller nodes (node ids 1-3), each an EmbeddedKafka in a
    folder of its own; kafka.sh appends each node's extra.properties (node id, the three
    voters, replication 3 and min.insync.replicas 2) to the single-node configuration."""

    def __init__(self, folder: Path, nodes: int = NODES) -> None:
        cluster_id = kraft_cluster_id()
        self.nodes = [EmbeddedKafka(folder / f"node-{n}", cluster_id=cluster_id)
                      for n in range(1, nodes + 1)]
        voters = ",".join(f"{n}@127.0.0.1:{node.controller_port}"
                          for n, node in enumerate(self.nodes, 1))
        replicas = min(nodes, NODES)
        isr = min(MIN_INSYNC, replicas)
        for n, node in enumerate(self.nodes, 1):
            node.folder.mkdir(parents=True, exist_ok=True)
            (node.folder / "extra.properties").write_text(
                f"node.id={n}\ncontroller.quorum.voters={voters}\n"
                f"default.replication.factor={replicas}\nmin.insync.replicas={isr}\n"
                f"offsets.topic.replication.factor={replicas}\n"
                f"transaction.state.log.replication.factor={replicas}\n"
                f"transaction.state.log.min.isr={isr}\n"
                f"share.coordinator.state.topic.replication.factor={replicas}\n"
                f"share.coordinator.state.topic.min.isr={isr}\n")

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self) -> KafkaCluster:
        """Every node at once: a node's broker waits for a quorum of controllers, so starting
        them one after another would wait on nodes not yet started."""
        missing = missing_prerequisites()
        if missing:
            raise RuntimeError(INSTALL_HINT.format(missing=", ".join(missing)))
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-node") as pool:
            for started in [pool.submit(node.start) for node in self.nodes]:
                started.result()
        self.wait_healthy()
        return self

    def kill(self, index: int) -> int:
        """SIGKILL node `index` (0-based), as a machine lost; returns the pid killed."""
        node = self.nodes[index]
        pid = int((node.folder / "kafka.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{pid}").exists(), 30, f"kafka node {index + 1} exit")
        return pid

    def restart(self, index: int) -> None:
        """Start a killed node again on the same ports and data folder (no new format)."""
        self.nodes[index].start()

    def under_replicated(self, timeout: float = 10.0) -> dict[str, int]:
        """Partitions per topic whose in-sync replicas are fewer than their replicas."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        metadata = admin.list_topics(timeout=timeout)
        return {name: short for name, topic in metadata.topics.items()
                if (short := sum(len(p.isrs) < len(p.replicas)
                                 for p in topic.partitions.values()))}

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Every node is a broker of the cluster and every partition is fully in sync."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})

        def healthy() -> bool:
            try:
                brokers = admin.list_topics(timeout=5).brokers
                return len(brokers) == len(self.nodes) and not self.under_replicated()
            except Exception:  # a node still starting answers nothing yet
                return False

        wait_until(healthy, timeout, "every Kafka node in the cluster and in sync")

    def stop(self) -> None:
        """Every node at once: a node stopping last would wait for a controller quorum."""
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-stop") as pool:
            list(pool.map(lambda node: node.stop(), self.nodes))


@contextmanager
def kafka_cluster(nodes: int = NODES) -> Iterator[KafkaCluster]:
    with temporary_folder("clinic-kafka-cluster-") as folder:
        cluster = KafkaCluster(folder, nodes)
        try:
            yield cluster.start()
        finally:
            cluster.stop()
