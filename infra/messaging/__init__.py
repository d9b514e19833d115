"""Message publishers: Kafka when configured, a local JSONL sink otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.messaging.kafka import KafkaPublisher, kafka_client_config
from infra.messaging.sink import LocalSink
from projections.ports import MessagePublisher


def build_publisher(kafka: str | Mapping[str, Any] | None, data_dir: Path) -> MessagePublisher:
    """kafka: kafka_client_config(settings) (or a bootstrap address); None: the local sink."""
    if kafka:
        return KafkaPublisher(kafka)
    return LocalSink(data_dir / "sink" / "messages.jsonl")


__all__ = ["KafkaPublisher", "LocalSink", "build_publisher", "kafka_client_config"]
