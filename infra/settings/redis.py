"""Redis: holds, codes, sessions, idempotency records, rate limits (unset: embedded)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import model_validator

from infra.settings.secrets import read_secret_file
from infra.settings.tls import ClientTls, OutboundTlsSettings


class RedisSettings(OutboundTlsSettings):
    redis_url: str | None = None
    # The URL, password included, from a file (a mounted secret); wins over the variable.
    redis_url_file: Path | None = None
    # Used with a rediss:// CLINIC_REDIS_URL (the scheme switches TLS on).
    redis_tls_ca_file: Path | None = None
    redis_tls_cert_file: Path | None = None
    redis_tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _redis_url_from_file(self) -> Self:
        if self.redis_url_file is not None:
            self.redis_url = read_secret_file(self.redis_url_file, "redis_url")
        return self

    def redis_client_tls(self) -> ClientTls | None:
        """CA and client certificate for a rediss:// CLINIC_REDIS_URL; None: plaintext."""
        if not (self.redis_url or "").startswith("rediss://"):
            return None
        return ClientTls(self.redis_tls_ca_file or self.tls_ca_file, self.redis_tls_cert_file,
                         self.redis_tls_key_file)
