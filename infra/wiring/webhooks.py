"""Wire the webhook dispatcher: its source (its own Kafka consumer group, or the local sink),
the subscriptions (the event store), the delivery log, the sender and the retry schedule."""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from commands.webhooks import Webhooks
from infra.crypto.phi import PhiCipher
from infra.crypto.webhook_secrets import WebhookSecrets
from infra.eventstore.application import FOLLOWER_POOL, build_application
from infra.mail.sources import KafkaSource, SinkSource, Source
from infra.messaging import LocalSink, build_publisher, create_topics, kafka_client_config
from infra.postgres.webhook_deliveries import PostgresWebhookDeliveries
from infra.settings import Settings
from infra.webhooks.dispatcher import WebhookDispatcher
from infra.webhooks.schedule import RetrySchedule
from infra.webhooks.sender import WebhookSender
from projections.webhooks import WEBHOOK_TOPICS


def build_dispatcher(settings: Settings, source: Source | None = None
                     ) -> tuple[WebhookDispatcher, list[Any]]:
    """The dispatcher, and what to close after it stopped. Without `source`: the Kafka topic
    in CLINIC_WEBHOOK_GROUP when Kafka is configured, else the local sink."""
    assert settings.database_url
    if source is None:
        source = webhook_source(settings)
    app = build_application(settings, pool_size=FOLLOWER_POOL + settings.webhook_concurrency)
    assert isinstance(app.data_keys, PhiCipher)
    pool: ConnectionPool[Any] = ConnectionPool(
        settings.database_url, min_size=1, max_size=settings.webhook_concurrency + 1, open=True,
        name="webhooks")
    deliveries = PostgresWebhookDeliveries(pool, settings.db_schema)
    webhooks = Webhooks(app, WebhookSecrets(app.data_keys), deliveries,
                        allow_loopback=settings.development)
    sender = WebhookSender(settings.webhook_timeout_seconds, settings.webhook_ca_file)
    schedule = RetrySchedule(settings.webhook_max_attempts, settings.webhook_backoff_seconds,
                             settings.webhook_max_backoff_seconds)
    dispatcher = WebhookDispatcher(source, webhooks, deliveries, sender, schedule,
                                   topic_prefix=settings.kafka_topic_prefix,
                                   concurrency=settings.webhook_concurrency)
    return dispatcher, [source, dispatcher, sender, pool, app]


def webhook_source(settings: Settings) -> Source:
    client = kafka_client_config(settings)
    if client is None:
        sink = build_publisher(None, settings.resolved_data_dir())
        assert isinstance(sink, LocalSink)
        return SinkSource(sink, reader="webhooks")
    create_topics(settings)
    return KafkaSource(client, settings.webhook_group,
                       [settings.kafka_topic_prefix + topic for topic in WEBHOOK_TOPICS])
