"""Message publishers: Kafka when configured, a local JSONL sink otherwise."""

from __future__ import annotations

from pathlib import Path

from infra.messaging.kafka import KafkaPublisher
from infra.messaging.sink import LocalSink
from projections.ports import MessagePublisher


def build_publisher(kafka_bootstrap: str | None, data_dir: Path) -> MessagePublisher:
    if kafka_bootstrap:
        return KafkaPublisher(kafka_bootstrap)
    return LocalSink(data_dir / "sink" / "messages.jsonl")


__all__ = ["KafkaPublisher", "LocalSink", "build_publisher"]
