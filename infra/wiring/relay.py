"""Wire the outbox relay (projections/relay.py): the application's log, Kafka (or the local
sink), the Avro codec and a tracking table of its own (relay_tracking). Its publisher is
counted here (messages per topic, failed batches): projections/ stays free of metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.utils import Environment

from infra.eventstore.application import FOLLOWER_POOL, build_application
from infra.eventstore.log_listener import EventLogListener
from infra.eventstore.recorder import eventsourcing_env
from infra.messaging import build_publisher, create_topics, kafka_client_config
from infra.messaging.avro import AvroCodec
from infra.messaging.tracing import messaging_system, traced
from infra.observability.metrics import record_publish_failure, record_published
from infra.postgres.follower_health import PostgresFollowerHealth
from infra.settings import Settings
from projections.ports import MessagePublisher, OutboundMessage, PublishError
from projections.relay import Relay
from projections.runner import CatchUpRunner


def build_relay(settings: Settings, **options: Any) -> tuple[CatchUpRunner, list[Any]]:
    """The relay's runner, and what to close after it stopped."""
    assert settings.database_url
    create_topics(settings)
    app = build_application(settings, open_phi=False, pool_size=FOLLOWER_POOL)
    env = eventsourcing_env(settings.database_url, settings.db_schema) | {
        "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "1"}
    factory = InfrastructureFactory[PostgresTrackingRecorder].construct(
        env=Environment(name=Relay.name, env=env))
    tracking = factory.tracking_recorder(PostgresTrackingRecorder)
    client = kafka_client_config(settings)
    data_dir = settings.resolved_data_dir()
    codec, prefix = AvroCodec(), settings.kafka_topic_prefix
    system = messaging_system(client)
    relay = Relay(tracking,
                  lambda: traced(CountedPublisher(build_publisher(client, data_dir)), system),
                  lambda message: codec.outbound(message, prefix), app.repository.get)
    options.setdefault("idle_sleep", settings.follower_gather_ms / 1000)
    listener = EventLogListener(app.recorder)
    health = PostgresFollowerHealth(settings.database_url, settings.db_schema)
    return (CatchUpRunner(app, relay, listener=listener, health=health, **options),
            [listener, relay, tracking.datastore, app, health])


class CountedPublisher:
    """A MessagePublisher that counts what the broker acknowledged and what it did not."""

    def __init__(self, inner: MessagePublisher) -> None:
        self.inner = inner

    def publish(self, messages: Sequence[OutboundMessage]) -> None:
        try:
            self.inner.publish(messages)
        except PublishError:
            record_publish_failure()
            raise
        topics: dict[str, int] = {}
        for message in messages:
            topics[message.topic] = topics.get(message.topic, 0) + 1
        for topic, count in topics.items():
            record_published(topic, count)

    def ready(self) -> bool:
        return self.inner.ready()

    def close(self) -> None:
        self.inner.close()
