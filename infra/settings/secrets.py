"""Secrets: the token signing key and the PHI key-encryption key (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets: known to everyone, refused outside development mode.
DEV_JWT_SECRET = "dev-only-jwt-signing-key-change-me-0123456789"
DEV_PHI_KEK = "ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTMyYiE="  # base64 of 32 bytes


class SecretSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "clinic-booking"
    phi_kek: SecretStr = SecretStr(DEV_PHI_KEK)
    # The KEK may come from a file instead (e.g. a mounted secret); the file wins.
    phi_kek_file: Path | None = None
    # Earlier KEKs, comma-separated base64: kept only until `clinic keys rotate` ran.
    phi_kek_previous: SecretStr | None = None

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
