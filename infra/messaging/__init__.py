"""Message publishers: Kafka when configured, a local JSONL sink otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.messaging.kafka import KafkaPublisher, ensure_topics, kafka_client_config
from infra.messaging.sink import LocalSink
from infra.settings import Settings
from projections.messages import DEAD_LETTER_TOPIC, TOPICS
from projections.ports import MessagePublisher


def build_publisher(kafka: str | Mapping[str, Any] | None, data_dir: Path) -> MessagePublisher:
    """kafka: kafka_client_config(settings) (or a bootstrap address); None: the local sink."""
    if kafka:
        return KafkaPublisher(kafka)
    return LocalSink(data_dir / "sink" / "messages.jsonl")


def topic_names(settings: Settings) -> list[str]:
    """Every topic this system publishes to, with the configured prefix."""
    return [settings.kafka_topic_prefix + t for t in (*TOPICS, DEAD_LETTER_TOPIC)]


def create_topics(settings: Settings) -> None:
    """Kafka only: create the topics that are missing (idempotent)."""
    client = kafka_client_config(settings)
    if client is not None:
        ensure_topics(client, topic_names(settings), settings.kafka_partitions,
                      settings.kafka_replication)


__all__ = ["KafkaPublisher", "LocalSink", "build_publisher", "create_topics",
           "kafka_client_config", "topic_names"]
