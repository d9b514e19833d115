"""Idempotent, acks=all Kafka producer behind the MessagePublisher port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from projections.ports import OutboundMessage, PublishError


class KafkaPublisher:
    def __init__(self, bootstrap: str, extra: dict[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
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
            AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        except KafkaException:
            return False
        return True

    def close(self) -> None:
        self._producer.flush(5)
