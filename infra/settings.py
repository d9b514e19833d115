"""Typed configuration from CLINIC_* environment variables.

Unset database / Redis / Kafka mean "use the embedded default" (see infra/runtime.py).
"""

from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets: known to everyone, refused outside development mode.
DEV_JWT_SECRET = "dev-only-jwt-signing-key-change-me-0123456789"
DEV_PHI_KEK = "ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTMyYiE="  # base64 of 32 bytes


class Mode(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    """Every knob an operator can turn; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    mode: Mode = Mode.development
    data_dir: Path = Field(default=Path(".clinic-data"))
    database_url: str | None = None
    redis_url: str | None = None
    kafka_bootstrap: str | None = None
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "clinic-booking"
    phi_kek: SecretStr = SecretStr(DEV_PHI_KEK)
    # The KEK may come from a file instead (e.g. a mounted secret); the file wins.
    phi_kek_file: Path | None = None
    # Earlier KEKs, comma-separated base64: kept only until `clinic keys rotate` ran.
    phi_kek_previous: SecretStr | None = None
    # Patients with no activity (visit, booking, sign-in, consent) for this long are erased
    # by `clinic retention run` (crypto-shredding). Set it to the longest medical-records
    # rule that applies to the clinic (docs/privacy.md).
    retention_years: float = Field(default=10, gt=0, le=100)
    log_level: str = "INFO"
    db_schema: str = "public"
    hold_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    max_holds_per_client: int = Field(default=3, ge=1, le=50)
    cancellation_cutoff_hours: float = Field(default=24, ge=0, le=24 * 14)
    patient_token_minutes: int = Field(default=30, ge=1, le=720)
    # Multiplies every rate limit (codes, verification, holds, bookings). Load tests from
    # one address raise it; production keeps 1.
    rate_limit_scale: float = Field(default=1.0, gt=0, le=100_000)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "clinic@localhost"
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if self.mode is not Mode.development:
            weak = [
                name
                for name, value, default in (
                    ("CLINIC_JWT_SECRET", self.jwt_secret, DEV_JWT_SECRET),
                    ("CLINIC_PHI_KEK", SecretStr(self.phi_kek_value()), DEV_PHI_KEK),
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

    def phi_kek_value(self) -> str:
        if self.phi_kek_file is not None:
            try:
                return self.phi_kek_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"CLINIC_PHI_KEK_FILE cannot be read: {exc.strerror}") from None
        return self.phi_kek.get_secret_value()

    def phi_kek_previous_values(self) -> list[str]:
        raw = self.phi_kek_previous.get_secret_value() if self.phi_kek_previous else ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    @property
    def development(self) -> bool:
        return self.mode is Mode.development

    def resolved_data_dir(self) -> Path:
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
