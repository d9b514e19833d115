"""Idempotent, acks=all Kafka producer behind the MessagePublisher port."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from infra.settings import Settings
from projections.ports import OutboundMessage, PublishError


def kafka_client_config(settings: Settings) -> dict[str, Any] | None:
    """What every confluent-kafka client (producer, consumer, admin) needs to reach the
    brokers: bootstrap servers and, when configured, TLS. None: Kafka is not configured."""
    if not settings.kafka_bootstrap:
        return None
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap}
    tls = settings.kafka_client_tls()
    if tls is not None:
        config |= {"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "https"}
        if tls.ca is not None:
            config["ssl.ca.location"] = str(tls.ca)
        if tls.cert is not None and tls.key is not None:
            config |= {"ssl.certificate.location": str(tls.cert),
                       "ssl.key.location": str(tls.key)}
    return config


def ensure_topics(client: Mapping[str, Any], topics: Sequence[str], partitions: int,
                  replication: int, timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet (keyed partitions need them up front: a topic
    auto-created by the first message gets the broker's default partition count, and a
    consumer subscribed before it existed would not see it for minutes)."""
    admin = AdminClient(dict(client))
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [NewTopic(t, num_partitions=partitions, replication_factor=replication)
               for t in topics if t not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise PublishError(f"cannot create topic {topic}: {exc}") from exc


class KafkaPublisher:
    def __init__(self, client: str | Mapping[str, Any],
                 extra: dict[str, Any] | None = None) -> None:
        """client: kafka_client_config(settings), or a bootstrap address (plaintext)."""
        if isinstance(client, str):
            client = {"bootstrap.servers": client}
        self.client = dict(client)  # shared by the producer and the readiness probe
        self.bootstrap: str = self.client["bootstrap.servers"]
        self._producer = Producer(
            {
                **self.client,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                "message.timeout.ms": 30000,
                **(extra or {}),
            }
        )

    def publish(self, messages: Sequence[OutboundMessage], timeout: float = 30.0) -> None:
        errors: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        try:
            for message in messages:
                self._producer.produce(
                    message.topic,
                    key=message.key,
                    value=message.value,
                    headers=list(message.headers.items()),
                    on_delivery=delivered,
                )
                self._producer.poll(0)
        except (BufferError, KafkaException) as exc:
            raise PublishError(str(exc)) from exc
        remaining = self._producer.flush(timeout)
        if remaining:
            raise PublishError(f"{remaining} message(s) not acknowledged within {timeout}s")
        if errors:
            raise PublishError("; ".join(errors))

    def ready(self) -> bool:
        try:
            AdminClient(self.client).list_topics(timeout=2)
        except KafkaException:
            return False
        return True

    def close(self) -> None:
        self._producer.flush(5)
