"""Secrets: the token signing key and the PHI key-encryption key (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.crypto.audit_keys import VerifierKey

# Development-only secrets: known to everyone, refused outside development mode.
DEV_JWT_SECRET = "dev-only-jwt-signing-key-change-me-0123456789"
DEV_PHI_KEK = "ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTMyYiE="  # base64 of 32 bytes
DEV_AUDIT_SIGNING_KEY = "3tm5KrKteLa43TYFNmMrq3Rz7iJld5BnpkFZm1HAH08="  # an Ed25519 seed


def read_secret_file(path: Path, field: str) -> str:
    """The content of CLINIC_<FIELD>_FILE (a mounted secret), stripped; a ValueError names the
    variable, never the content."""
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"CLINIC_{field.upper()}_FILE cannot be read: {exc.strerror}") from None


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
    # The token signing key and the audit signing key may come from files too (mounted
    # secrets, never in the environment: docs/deployment.md); a file wins over the variable.
    jwt_secret_file: Path | None = None
    audit_signing_key_file: Path | None = None

    @model_validator(mode="after")
    def _secrets_from_files(self) -> Self:
        if self.jwt_secret_file is not None:
            self.jwt_secret = SecretStr(read_secret_file(self.jwt_secret_file, "jwt_secret"))
        if self.audit_signing_key_file is not None:
            self.audit_signing_key = SecretStr(
                read_secret_file(self.audit_signing_key_file, "audit_signing_key"))
        return self

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
