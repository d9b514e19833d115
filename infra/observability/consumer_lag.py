"""How far the notifier's consumer group is behind the end of each topic (Kafka only).

End offsets come from the admin API. Committed offsets come from a consumer that carries the
group's id but never subscribes, so it never joins the group (joining would rebalance the
notifier at every scrape). Not the admin API's list_consumer_group_offsets: librdkafka's
admin OffsetFetch crashes the process (SIGSEGV) when the group coordinator is not ready
(confluent-kafka-python issue 1982, confluent-kafka-javascript issue 374). Both clients live
for one measurement only: nothing keeps connecting to a broker between scrapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

Partition = tuple[str, int]


class ConsumerLag:
    """Lag in messages per topic of one consumer group; each broker call bounded by timeout."""

    def __init__(self, client: Mapping[str, Any], group: str, topics: Sequence[str],
                 timeout: float = 2.0) -> None:
        self.config = {**client, "socket.timeout.ms": int(timeout * 1000)}
        self.group, self.topics, self.timeout = group, tuple(topics), timeout

    def __call__(self) -> list[Metric]:
        family = GaugeMetricFamily(
            "clinic_kafka_consumer_lag_messages", "Messages on the topic the consumer group "
            "has not committed yet (end offset minus committed offset, summed over partitions).",
            labels=["group", "topic"])
        for topic, lag in sorted(self.lag().items()):
            family.add_metric([self.group, topic], lag)
        return [family]

    def lag(self) -> dict[str, int]:
        lag = dict.fromkeys(self.topics, 0)
        admin = AdminClient(self.config)
        partitions = self._partitions(admin)
        if not partitions:  # the topics do not exist yet
            return lag
        committed = self._committed(partitions)
        end, start = OffsetSpec.latest(), OffsetSpec.earliest()  # type: ignore[no-untyped-call]
        ends = self._offsets(admin, partitions, end)
        unread = [p for p in partitions if committed.get(p, -1) < 0]
        starts = self._offsets(admin, unread, start) if unread else {}
        for part in partitions:
            done = committed.get(part, -1)
            lag[part[0]] += max(0, ends[part] - (done if done >= 0 else starts[part]))
        return lag

    def _partitions(self, admin: AdminClient) -> list[Partition]:
        metadata = admin.list_topics(timeout=self.timeout)
        return [(topic, number) for topic in self.topics if topic in metadata.topics
                for number in metadata.topics[topic].partitions]

    def _committed(self, partitions: list[Partition]) -> dict[Partition, int]:
        reader = Consumer({**self.config, "group.id": self.group, "enable.auto.commit": False})
        try:
            answer = reader.committed(
                [TopicPartition(topic, number) for topic, number in partitions],
                timeout=self.timeout)
        finally:
            reader.close()
        return {(tp.topic, tp.partition): tp.offset for tp in answer}

    def _offsets(self, admin: AdminClient, partitions: list[Partition],
                 spec: OffsetSpec) -> dict[Partition, int]:
        futures = admin.list_offsets(
            {TopicPartition(topic, number): spec for topic, number in partitions},
            request_timeout=self.timeout)
        return {(tp.topic, tp.partition): future.result(timeout=self.timeout * 2).offset
                for tp, future in futures.items()}
