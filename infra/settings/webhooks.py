"""Webhooks: how the dispatcher (`clinic webhooks`) delivers to partners and retries
(docs/webhooks.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    webhook_group: str = "clinic-webhooks"  # Kafka consumer group of the dispatcher
    # Attempts per delivery before it is dead-lettered (status `dead`); the waits between
    # them grow 4x from webhook_backoff_seconds, capped, with +-25% jitter: by default 20 s,
    # 80 s, 5 min, 21 min, 85 min, 5.7 h, 12 h: the eighth attempt about 20 hours after the
    # first.
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_backoff_seconds: float = Field(default=20.0, ge=0, le=3600)
    webhook_max_backoff_seconds: float = Field(default=43200.0, ge=0, le=172800)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)  # per attempt
    webhook_concurrency: int = Field(default=4, ge=1, le=64)  # attempts at once, per process
    # CA certificates the receivers' certificates may chain to, besides the system's.
    webhook_ca_file: Path | None = None

    @field_validator("webhook_ca_file")
    @classmethod
    def _exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"CLINIC_WEBHOOK_CA_FILE: no such file: {path}")
        return path
