"""Typed configuration from CLINIC_* environment variables.

Unset database / Redis / Kafka mean "use the embedded default" (see infra/wiring/servers.py).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
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
    # Patients with no activity (registration, email verification, contact change, consent,
    # booking, cancellation, the end of a visit) for this long are erased
    # by `clinic retention run` (crypto-shredding). Set it to the longest medical-records
    # rule that applies to the clinic (docs/privacy.md).
    retention_years: float = Field(default=10, gt=0, le=100)
    log_level: str = "INFO"
    db_schema: str = "public"
    hold_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    max_holds_per_client: int = Field(default=3, ge=1, le=50)
    cancellation_cutoff_hours: float = Field(default=24, ge=0, le=24 * 14)
    # A patient's session ends after this long without a request, and at the absolute
    # limit after sign-in whatever happens.
    patient_idle_minutes: int = Field(default=30, ge=1, le=720)
    patient_session_hours: float = Field(default=12, gt=0, le=24)
    # Multiplies every rate limit (codes, verification, holds, bookings). Load tests from
    # one address raise it; production keeps 1.
    rate_limit_scale: float = Field(default=1.0, gt=0, le=100_000)
    # Per API worker process: threads for the sync (write-side) handlers, and how often the
    # GIL changes hands (docs/performance.md, "sharing the GIL").
    api_threads: int = Field(default=40, ge=1, le=200)
    gil_switch_ms: float = Field(default=5.0, gt=0, le=100)
    # The log followers in `clinic serve` / `clinic project` (projectors, relay, reminders)
    # may run this many nice steps below the API (decision 0025: off by default, since an
    # overloaded machine then starves them and projection lag grows without bound).
    follower_nice: int = Field(default=0, ge=0, le=19)
    # After the log grows, the read-model workers and the relay wait this long before
    # reading, so the events of that moment become one batch (one read, one transaction,
    # one Kafka flush) instead of one each. Projection lag grows by as much; decision 0031.
    follower_gather_ms: float = Field(default=50, ge=0, le=1000)
    # Where people reach the API (behind the proxy): join links in emails point here.
    public_url: str = "http://127.0.0.1:8000"
    # A video visit opens this long before its start.
    telehealth_join_early_minutes: int = Field(default=15, ge=0, le=24 * 60)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "clinic@localhost"
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_ca_file: Path | None = None  # CA of the SMTP server's certificate (else the system's)
    # --- messaging (docs/messaging.md) -------------------------------------------------------
    # Reminders fall due this long before each booked visit: comma-separated, e.g. "24h,2h,30m".
    reminder_offsets: str = "24h,2h"
    # Prepended to every topic name (clinic.appointments.v1 ...): one broker, several
    # environments or tenants.
    kafka_topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$", max_length=100)
    # Topics the relay creates when they are missing (production: provision them yourself).
    kafka_partitions: int = Field(default=6, ge=1, le=1000)
    kafka_replication: int = Field(default=1, ge=1, le=10)
    notify_group: str = "clinic-notify"  # Kafka consumer group of `clinic notify`
    # A transient send failure is retried this many times, backing off exponentially from
    # notify_backoff_seconds; then (and at once for a permanent failure) the message goes to
    # the dead-letter topic.
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    notify_backoff_seconds: float = Field(default=1.0, ge=0, le=600)
    # --- TLS (docs/deployment.md, docs/decisions/0012-tls.md) --------------------------------
    # All optional: unset, everything is plaintext as before. Files are PEM.
    # HTTPS for `clinic serve` / `clinic demo`: certificate (chain) and private key. With a
    # client CA the server also requires a client certificate signed by it (mutual TLS).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # Outbound: the CA that signed the servers' certificates, for every service that uses TLS
    # and names no CA of its own (it never switches TLS on by itself).
    tls_ca_file: Path | None = None
    # PostgreSQL: merged into CLINIC_DATABASE_URL as sslrootcert / sslcert / sslkey, with
    # sslmode=verify-full unless the URL names a verifying mode; what the URL says wins.
    postgres_tls_ca_file: Path | None = None
    postgres_tls_cert_file: Path | None = None
    postgres_tls_key_file: Path | None = None
    # Redis: used with a rediss:// CLINIC_REDIS_URL (the scheme switches TLS on).
    redis_tls_ca_file: Path | None = None
    redis_tls_cert_file: Path | None = None
    redis_tls_key_file: Path | None = None
    # Kafka: security.protocol=SSL when CLINIC_KAFKA_TLS is true or a Kafka file is set.
    kafka_tls: bool = False
    kafka_tls_ca_file: Path | None = None
    kafka_tls_cert_file: Path | None = None
    kafka_tls_key_file: Path | None = None
    # --- end of TLS ---------------------------------------------------------------------------

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
                or parts.fragment:
            raise ValueError("CLINIC_PUBLIC_URL must be an absolute http(s) URL without a "
                             "query, e.g. https://clinic.example.org")
        return value.strip().rstrip("/")

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

    @field_validator("reminder_offsets")
    @classmethod
    def _check_offsets(cls, value: str) -> str:
        parse_offsets(value)
        return value

    def reminder_offset_list(self) -> tuple[timedelta, ...]:
        return parse_offsets(self.reminder_offsets)

    def smtp_security(self) -> Literal["tls", "starttls", "none"]:
        return "tls" if self.smtp_tls else "starttls" if self.smtp_starttls else "none"

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

    # --- TLS (see the fields above) -----------------------------------------------------------
    @model_validator(mode="after")
    def _check_tls(self) -> Self:
        for name in TLS_FILE_FIELDS:
            path: Path | None = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{_env(name)}: no such file: {path}")
        for prefix in ("tls", "postgres_tls", "redis_tls", "kafka_tls"):
            cert, key = f"{prefix}_cert_file", f"{prefix}_key_file"
            if (getattr(self, cert) is None) != (getattr(self, key) is None):
                raise ValueError(f"{_env(cert)} and {_env(key)} go together: set both or neither")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ValueError("CLINIC_TLS_CLIENT_CA_FILE (mutual TLS) needs HTTPS: set "
                             "CLINIC_TLS_CERT_FILE and CLINIC_TLS_KEY_FILE")
        postgres_files = (self.postgres_tls_ca_file, self.postgres_tls_cert_file,
                          self.postgres_tls_key_file)
        if self.database_url:
            self.database_url = self._postgres_tls_url(self.database_url)
        elif any(postgres_files):
            raise ValueError("CLINIC_POSTGRES_TLS_* apply to CLINIC_DATABASE_URL, which is unset "
                             "(the embedded PostgreSQL does not use TLS)")
        if any((self.redis_tls_ca_file, self.redis_tls_cert_file, self.redis_tls_key_file)) \
                and not (self.redis_url or "").startswith("rediss://"):
            raise ValueError("CLINIC_REDIS_TLS_* need a rediss:// CLINIC_REDIS_URL "
                             "(the embedded Redis does not use TLS)")
        if self.kafka_client_tls() is not None and not self.kafka_bootstrap:
            raise ValueError("CLINIC_KAFKA_TLS / CLINIC_KAFKA_TLS_* need CLINIC_KAFKA_BOOTSTRAP")
        return self

    def _postgres_tls_url(self, url: str) -> str:
        """CLINIC_DATABASE_URL plus the CLINIC_POSTGRES_TLS_* files as libpq parameters.

        Every connection (eventsourcing's, our pools, the projectors) reads the one URL, so
        TLS is decided here once (docs/decisions/0012-tls.md)."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        files = {"sslrootcert": self.postgres_tls_ca_file, "sslcert": self.postgres_tls_cert_file,
                 "sslkey": self.postgres_tls_key_file}
        added: dict[str, str] = {}
        if any(files.values()):
            mode = query.get("sslmode")
            if mode is None:
                added["sslmode"] = mode = "verify-full"
            elif mode not in LIBPQ_TLS_MODES:
                raise ValueError(f"CLINIC_POSTGRES_TLS_* are set but CLINIC_DATABASE_URL says "
                                 f"sslmode={mode}: use sslmode=verify-full (or leave it out)")
        if (added.get("sslmode") or query.get("sslmode")) in LIBPQ_TLS_MODES:
            files["sslrootcert"] = files["sslrootcert"] or self.tls_ca_file
        added |= {key: str(path) for key, path in files.items()
                  if path is not None and key not in query}
        if not added:
            return url
        extra = urlencode(added, quote_via=quote, safe="/")
        return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))

    def redis_client_tls(self) -> ClientTls | None:
        """CA and client certificate for a rediss:// CLINIC_REDIS_URL; None: plaintext."""
        if not (self.redis_url or "").startswith("rediss://"):
            return None
        return ClientTls(self.redis_tls_ca_file or self.tls_ca_file, self.redis_tls_cert_file,
                         self.redis_tls_key_file)

    def kafka_client_tls(self) -> ClientTls | None:
        """CA and client certificate for Kafka's SSL listener; None: plaintext."""
        own = (self.kafka_tls_ca_file, self.kafka_tls_cert_file, self.kafka_tls_key_file)
        if not (self.kafka_tls or any(own)):
            return None
        return ClientTls(self.kafka_tls_ca_file or self.tls_ca_file, self.kafka_tls_cert_file,
                         self.kafka_tls_key_file)


@dataclass(frozen=True)
class ClientTls:
    """What a client presents and trusts. ca None: the system's trusted CAs."""

    ca: Path | None
    cert: Path | None
    key: Path | None


TLS_FILE_FIELDS = tuple(name for name in Settings.model_fields
                        if name.endswith("_file") and "tls" in name)
# libpq modes that use TLS (and so a root certificate): docs/deployment.md says verify-full.
LIBPQ_TLS_MODES = ("require", "verify-ca", "verify-full")


def _env(field: str) -> str:
    return f"CLINIC_{field.upper()}"
# --- end of TLS -------------------------------------------------------------------------------


_UNITS = {"d": 86400, "h": 3600, "m": 60}


def parse_offsets(text: str) -> tuple[timedelta, ...]:
    """ "24h,2h,30m" -> durations, longest first; ValueError on anything else."""
    offsets: list[timedelta] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if len(part) < 2 or part[-1] not in _UNITS or not part[:-1].isdigit():
            raise ValueError(f"reminder offset '{part}' is not like 24h, 2h or 30m")
        offsets.append(timedelta(seconds=int(part[:-1]) * _UNITS[part[-1]]))
    if not offsets or any(o <= timedelta(0) for o in offsets):
        raise ValueError("give at least one reminder offset, each above zero")
    return tuple(sorted(set(offsets), reverse=True))
