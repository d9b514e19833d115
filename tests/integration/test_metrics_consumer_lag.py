"""The notifier group's lag, from a real broker: end offsets minus committed offsets, and
every message of a partition the group never committed; and in a scrape of /metrics when
Kafka is configured."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from infra.embedded.kafka import EmbeddedKafka
from infra.messaging import create_topics
from infra.messaging.kafka import KafkaPublisher, ensure_topics
from infra.observability.consumer_lag import ConsumerLag
from infra.settings import Settings
from projections.messages import TOPICS
from projections.ports import OutboundMessage


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka) -> Settings:
    return settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap,
                                       "kafka_topic_prefix": f"{settings.db_schema}."})


def test_lag_is_what_the_group_has_not_committed(kafka: EmbeddedKafka) -> None:
    client = {"bootstrap.servers": kafka.bootstrap}
    run = uuid.uuid4().hex[:8]
    topic, absent, group = f"lag-{run}.appointments", f"lag-{run}.absent", f"notify-{run}"
    ensure_topics(client, [topic], partitions=2, replication=1)
    publisher = KafkaPublisher(client)
    publisher.publish([OutboundMessage(topic, f"k{n}".encode(), b"v") for n in range(5)])
    publisher.close()
    lag = ConsumerLag(client, group, [topic, absent])
    assert settled(lag) == {topic: 5, absent: 0}  # nothing committed: all of it

    consumer = Consumer({**client, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    read = 0
    try:
        for _ in range(120):
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                read += 1
                consumer.commit(message=message, asynchronous=False)
            if read == 3:
                break
    finally:
        consumer.close()
    assert read == 3
    assert lag.lag() == {topic: 2, absent: 0}
    [family] = lag()
    assert {tuple(sorted(s.labels.items())) for s in family.samples} == {
        (("group", group), ("topic", topic)), (("group", group), ("topic", absent))}


def settled(lag: ConsumerLag, timeout: float = 60.0) -> dict[str, int]:
    """The first answer: a fresh broker's group coordinator takes a moment to load (until then
    the scrape reports clinic_state_up{source="kafka"} 0)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return lag.lag()
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_scrape_shows_the_notifier_groups_lag_per_topic(settings: Settings,
                                                          client: TestClient) -> None:
    create_topics(settings)
    deadline = time.monotonic() + 60
    while True:
        response = client.get("/metrics")
        samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
        if {"source": "kafka"} in [s.labels for s in samples
                                   if s.name == "clinic_state_up" and s.value == 1]:
            break
        assert time.monotonic() < deadline, "Kafka never answered the scrape"
        time.sleep(1)
    lags = {s.labels["topic"]: s.value for s in samples
            if s.name == "clinic_kafka_consumer_lag_messages"
            and s.labels["group"] == settings.notify_group}
    assert lags == {settings.kafka_topic_prefix + topic: 0 for topic in TOPICS}
