"""Ingestion: the partner APIs `clinic ingest partner:<name>` may pull from (docs/ingest.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PARTNER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,53}$")


class PartnerSource(BaseModel):
    """One partner's API: `GET {url}/{kind}?cursor=...` pages of JSON items."""

    url: str = Field(pattern=r"^https?://")
    auth: Literal["none", "bearer", "api-key"] = "none"
    token: SecretStr | None = None  # the bearer token, or the API key
    api_key_header: str = "X-API-Key"
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    max_attempts: int = Field(default=5, ge=1, le=20)  # per page, for 429, 5xx and timeouts
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)  # doubled after each attempt
    max_retry_after_seconds: float = Field(default=60.0, ge=0, le=3600)  # cap on Retry-After
    ca_file: str | None = None  # CA of the partner's certificate (else the system's)
    every_minutes: float = Field(default=60.0, gt=0, le=10080)  # `clinic ingest --watch`
    mode: Literal["delta", "snapshot"] = "delta"  # of the scheduled pulls


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    # JSON: {"acme": {"url": "https://api.acme.example/v1", "auth": "bearer", "token": "..."}}
    ingest_partners: dict[str, PartnerSource] = {}
    # An uploaded file (POST /ingest/runs) beyond this is refused unread (413); bigger
    # exports go through `clinic ingest FILE`, which streams any size.
    ingest_max_upload_mb: int = Field(default=20, ge=1, le=1024)

    @field_validator("ingest_partners")
    @classmethod
    def _partner_names(cls, partners: dict[str, PartnerSource]) -> dict[str, PartnerSource]:
        """A partner's name becomes its source name (`partner:NAME`), which keys its ids."""
        for name in partners:
            if not _PARTNER_NAME.match(name):
                raise ValueError(f"partner name {name!r}: 1-54 lowercase letters, digits and "
                                 ". _ - (it names the source: keep it stable)")
        return partners
