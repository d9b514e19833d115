"""Email: the SMTP server (unset, development only: the development mailbox) and how the
notifier retries."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "clinic@localhost"
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_ca_file: Path | None = None  # CA of the SMTP server's certificate (else the system's)
    notify_group: str = "clinic-notify"  # Kafka consumer group of `clinic notify`
    # A transient send failure is retried this many times, backing off exponentially from
    # notify_backoff_seconds; then (and at once for a permanent failure) the message goes to
    # the dead-letter topic.
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    notify_backoff_seconds: float = Field(default=1.0, ge=0, le=600)

    def smtp_security(self) -> Literal["tls", "starttls", "none"]:
        return "tls" if self.smtp_tls else "starttls" if self.smtp_starttls else "none"
