"""TLS settings every outbound client shares, and what a client presents and trusts
(docs/deployment.md, docs/decisions/0012-tls.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

# libpq modes that use TLS (and so a root certificate): docs/deployment.md says verify-full.
LIBPQ_TLS_MODES = ("require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class ClientTls:
    """What a client presents and trusts. ca None: the system's trusted CAs."""

    ca: Path | None
    cert: Path | None
    key: Path | None


class OutboundTlsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    # The CA that signed the servers' certificates, for every service that uses TLS and
    # names no CA of its own (it never switches TLS on by itself). All TLS files are PEM.
    tls_ca_file: Path | None = None


def env_name(field: str) -> str:
    return f"CLINIC_{field.upper()}"
