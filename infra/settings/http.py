"""The API processes: HTTPS, where people reach them, and how each worker shares its CPU."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    # HTTPS for `clinic serve` / `clinic demo`: certificate (chain) and private key. With a
    # client CA the server also requires a client certificate signed by it (mutual TLS).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # Where people reach the API (behind the proxy): join links in emails point here.
    public_url: str = "http://127.0.0.1:8000"
    # Multiplies every rate limit (codes, verification, holds, bookings). Load tests from
    # one address raise it; production keeps 1.
    rate_limit_scale: float = Field(default=1.0, gt=0, le=100_000)
    # Per API worker process: threads for the sync (write-side) handlers, and how often the
    # GIL changes hands (docs/performance.md, "sharing the GIL").
    api_threads: int = Field(default=40, ge=1, le=200)
    gil_switch_ms: float = Field(default=5.0, gt=0, le=100)

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
                or parts.fragment:
            raise ValueError("CLINIC_PUBLIC_URL must be an absolute http(s) URL without a "
                             "query, e.g. https://clinic.example.org")
        return value.strip().rstrip("/")
