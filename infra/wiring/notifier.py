"""Wire the notifier: its source (Kafka or the local sink), mailer, composer and logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domain.appointments import Appointment
from domain.modality import Modality
from infra.crypto.derived_keys import derived_keys
from infra.crypto.join_links import join_links
from infra.eventstore.application import build_application
from infra.mail.dev_mailbox import DevMailbox
from infra.mail.notifier import Notifier
from infra.mail.smtp import Mailer, SmtpMailer
from infra.mail.sources import KafkaSource, SinkSource, Source
from infra.messaging import LocalSink, build_publisher, create_topics, kafka_client_config
from infra.postgres.delivery_log import DeliveryLog
from infra.redis.client import redis_client
from infra.redis.codes import RedisOneTimeCodes
from infra.settings import Settings
from projections.messages import DEAD_LETTER_TOPIC, TOPICS
from projections.notifications.compose import Composer


def dev_mailbox_path(settings: Settings) -> Path:
    return settings.resolved_data_dir() / "mailbox" / "messages.jsonl"


def dev_mailbox(settings: Settings) -> DevMailbox | None:
    """The development mailbox, where email goes when no SMTP server is configured."""
    if settings.smtp_host or not settings.development:
        return None
    return DevMailbox(dev_mailbox_path(settings))


def build_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                          security=settings.smtp_security(), username=settings.smtp_username,
                          password=password, ca_file=settings.smtp_ca_file or
                          settings.tls_ca_file)
    mailbox = dev_mailbox(settings)
    if mailbox is None:
        raise RuntimeError("CLINIC_SMTP_HOST is required outside development mode")
    return mailbox


def build_notifier(settings: Settings, source: Source) -> tuple[Notifier, list[Any]]:
    """The notifier, and what to close after it stopped."""
    assert settings.database_url
    app = build_application(settings)
    redis = redis_client(settings)
    links = join_links(settings)

    def patient_link(appointment: Appointment) -> str | None:
        if appointment.modality != Modality.telehealth.value:
            return None
        return links.url_for(appointment.id, "patient", appointment.patient_id,
                             appointment.start, appointment.end)

    composer = Composer(app, RedisOneTimeCodes(redis, derived_keys(settings).code_pepper),
                        settings.smtp_from, patient_link, public_url=settings.public_url)
    delivery_log = DeliveryLog(settings.database_url, settings.db_schema)
    dead_letters = build_publisher(kafka_client_config(settings), settings.resolved_data_dir())
    notifier = Notifier(source, composer, build_mailer(settings), delivery_log, dead_letters,
                        max_attempts=settings.notify_max_attempts,
                        backoff=settings.notify_backoff_seconds,
                        dead_letter_topic=settings.kafka_topic_prefix + DEAD_LETTER_TOPIC)
    return notifier, [source, dead_letters, delivery_log, redis, app]


def build_local_notifier(settings: Settings) -> tuple[Notifier, list[Any]]:
    """Without Kafka: follow the local sink the relay writes to."""
    sink = build_publisher(None, settings.resolved_data_dir())
    assert isinstance(sink, LocalSink)
    return build_notifier(settings, SinkSource(sink))


def build_kafka_notifier(settings: Settings, *, dead_letters: bool = False
                         ) -> tuple[Notifier, list[Any]]:
    """The notifier on the topics, or (dead_letters) on the dead-letter topic, to retry."""
    client = kafka_client_config(settings)
    if client is None:
        raise RuntimeError("CLINIC_KAFKA_BOOTSTRAP is not set")
    create_topics(settings)
    if dead_letters:
        source = KafkaSource(client, f"{settings.notify_group}-dead-letters",
                             [settings.kafka_topic_prefix + DEAD_LETTER_TOPIC])
    else:
        source = KafkaSource(client, settings.notify_group,
                             [settings.kafka_topic_prefix + topic for topic in TOPICS])
    return build_notifier(settings, source)
