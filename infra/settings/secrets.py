"""Secrets: the token signing key and the PHI key-encryption key (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.crypto.audit_keys import VerifierKey

# Development-only secrets: known to everyone, refused outside development mode.
DEV_JWT_SECRET = "dev-only-jwt-signing-key-change-me-0123456789"
DEV_PHI_KEK = "ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTMyYiE="  # base64 of 32 bytes
DEV_AUDIT_SIGNING_KEY = "3tm5KrKteLa43TYFNmMrq3Rz7iJld5BnpkFZm1HAH08="  # an Ed25519 seed


class SecretSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "clinic-booking"
    phi_kek: SecretStr = SecretStr(DEV_PHI_KEK)
    # The KEK may come from a file instead (e.g. a mounted secret); the file wins.
    phi_kek_file: Path | None = None
    # Earlier KEKs, comma-separated base64: kept only until `clinic keys rotate` ran.
    phi_kek_previous: SecretStr | None = None
    # The Ed25519 seed (base64 of 32 bytes) that signs the event log's checkpoints;
    # `clinic audit key` prints its public verifier key (docs/compliance.md).
    audit_signing_key: SecretStr = SecretStr(DEV_AUDIT_SIGNING_KEY)
    # The checkpoints' origin line and key name: this log's name, unique to the deployment.
    audit_origin: str = "clinic-booking/event-log"
    audit_key_name: str = "clinic-booking"
    # A checkpoint every so many events, or this long after the last one when more came.
    audit_checkpoint_events: int = Field(default=1000, ge=1, le=1_000_000)
    audit_checkpoint_seconds: float = Field(default=60, gt=0, le=86_400)
    # Verifier keys of earlier signing keys (space- or comma-separated): what they signed
    # (checkpoints, consent receipts) still verifies after a rotation.
    audit_trusted_keys: Annotated[list[str], NoDecode] = []

    @field_validator("audit_trusted_keys", mode="before")
    @classmethod
    def _verifier_keys(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if isinstance(value, list):
            for text in value:
                VerifierKey.parse(str(text))  # a ValueError names the setting
        return value

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
