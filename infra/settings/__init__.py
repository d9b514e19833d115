"""Typed configuration from CLINIC_* environment variables: one model per server or concern
(this package's modules), composed into the one `Settings` every process reads.

Unset database / Redis / Kafka mean "use the embedded default" (see infra/wiring/servers.py).
"""

from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from infra.settings.clinic import ClinicSettings, parse_offsets
from infra.settings.http import HttpSettings
from infra.settings.ingest import IngestSettings
from infra.settings.kafka import KafkaSettings
from infra.settings.mail import MailSettings
from infra.settings.oidc import OidcSettings
from infra.settings.postgres import PostgresSettings
from infra.settings.redis import RedisSettings
from infra.settings.secrets import (
    DEV_AUDIT_SIGNING_KEY,
    DEV_JWT_SECRET,
    DEV_PHI_KEK,
    SecretSettings,
)
from infra.settings.tls import LIBPQ_TLS_MODES, ClientTls, env_name
from infra.settings.webhooks import WebhookSettings

__all__ = ["DEV_JWT_SECRET", "DEV_PHI_KEK", "LIBPQ_TLS_MODES", "TLS_FILE_FIELDS", "ClientTls",
           "Mode", "Settings", "parse_offsets"]


class Mode(StrEnum):
    development = "development"
    production = "production"


class Settings(PostgresSettings, RedisSettings, KafkaSettings, MailSettings, HttpSettings,
               SecretSettings, OidcSettings, IngestSettings, WebhookSettings, ClinicSettings):
    """Every knob an operator can turn; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    mode: Mode = Mode.development
    data_dir: Path = Field(default=Path(".clinic-data"))
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if self.mode is not Mode.development:
            weak = [
                name
                for name, value, default in (
                    ("CLINIC_JWT_SECRET", self.jwt_secret, DEV_JWT_SECRET),
                    ("CLINIC_PHI_KEK", SecretStr(self.phi_kek_value()), DEV_PHI_KEK),
                    ("CLINIC_AUDIT_SIGNING_KEY", self.audit_signing_key,
                     DEV_AUDIT_SIGNING_KEY),
                )
                if value.get_secret_value() == default
            ]
            if weak:
                raise ValueError(
                    f"{', '.join(weak)} must be set to a real secret when CLINIC_MODE={self.mode}"
                )
        for name, value in (("CLINIC_PHI_KEK", self.phi_kek_value()),
                            *(("CLINIC_PHI_KEK_PREVIOUS", v)
                              for v in self.phi_kek_previous_values())):
            try:
                kek = base64.b64decode(value, validate=True)
            except ValueError:
                kek = b""
            if len(kek) != 32:
                raise ValueError(f"{name} must be 32 bytes, base64-encoded")
        if len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("CLINIC_JWT_SECRET must be at least 32 characters")
        return self

    @model_validator(mode="after")
    def _check_tls(self) -> Self:
        """TLS settings across servers (docs/deployment.md, docs/decisions/0012-tls.md)."""
        for name in TLS_FILE_FIELDS:
            path: Path | None = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{env_name(name)}: no such file: {path}")
        for prefix in ("tls", "postgres_tls", "redis_tls", "kafka_tls"):
            cert, key = f"{prefix}_cert_file", f"{prefix}_key_file"
            if (getattr(self, cert) is None) != (getattr(self, key) is None):
                raise ValueError(f"{env_name(cert)} and {env_name(key)} go together: set both "
                                 "or neither")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ValueError("CLINIC_TLS_CLIENT_CA_FILE (mutual TLS) needs HTTPS: set "
                             "CLINIC_TLS_CERT_FILE and CLINIC_TLS_KEY_FILE")
        if self.database_url:
            self.database_url = self.postgres_tls_url(self.database_url)
        elif any(self.postgres_tls_files()):
            raise ValueError("CLINIC_POSTGRES_TLS_* apply to CLINIC_DATABASE_URL, which is unset "
                             "(the embedded PostgreSQL does not use TLS)")
        if any((self.redis_tls_ca_file, self.redis_tls_cert_file, self.redis_tls_key_file)) \
                and not (self.redis_url or "").startswith("rediss://"):
            raise ValueError("CLINIC_REDIS_TLS_* need a rediss:// CLINIC_REDIS_URL "
                             "(the embedded Redis does not use TLS)")
        if self.kafka_client_tls() is not None and not self.kafka_bootstrap:
            raise ValueError("CLINIC_KAFKA_TLS / CLINIC_KAFKA_TLS_* need CLINIC_KAFKA_BOOTSTRAP")
        return self

    @property
    def development(self) -> bool:
        return self.mode is Mode.development

    def resolved_data_dir(self) -> Path:
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path


TLS_FILE_FIELDS = tuple(name for name in Settings.model_fields
                        if name.endswith("_file") and "tls" in name)
