"""Kafka: where the relay publishes and the notifier consumes (unset: the local sink;
docs/messaging.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from infra.settings.tls import ClientTls, OutboundTlsSettings


class KafkaSettings(OutboundTlsSettings):
    kafka_bootstrap: str | None = None
    # Prepended to every topic name (clinic.appointments.v1 ...): one broker, several
    # environments or tenants.
    kafka_topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$", max_length=100)
    # Topics the relay creates when they are missing (production: provision them yourself).
    kafka_partitions: int = Field(default=6, ge=1, le=1000)
    kafka_replication: int = Field(default=1, ge=1, le=10)
    # security.protocol=SSL when CLINIC_KAFKA_TLS is true or a Kafka file is set.
    kafka_tls: bool = False
    kafka_tls_ca_file: Path | None = None
    kafka_tls_cert_file: Path | None = None
    kafka_tls_key_file: Path | None = None

    def kafka_client_tls(self) -> ClientTls | None:
        """CA and client certificate for Kafka's SSL listener; None: plaintext."""
        own = (self.kafka_tls_ca_file, self.kafka_tls_cert_file, self.kafka_tls_key_file)
        if not (self.kafka_tls or any(own)):
            return None
        return ClientTls(self.kafka_tls_ca_file or self.tls_ca_file, self.kafka_tls_cert_file,
                         self.kafka_tls_key_file)
