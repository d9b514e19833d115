"""PostgreSQL: the event store and the read models (unset: the embedded server)."""

from __future__ import annotations

from pathlib import Path
from typing import Self
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import model_validator

from infra.settings.secrets import read_secret_file
from infra.settings.tls import LIBPQ_TLS_MODES, OutboundTlsSettings


class PostgresSettings(OutboundTlsSettings):
    database_url: str | None = None
    # The URL, password included, from a file (a mounted secret); wins over the variable.
    database_url_file: Path | None = None
    db_schema: str = "public"
    # Merged into CLINIC_DATABASE_URL as sslrootcert / sslcert / sslkey, with
    # sslmode=verify-full unless the URL names a verifying mode; what the URL says wins.
    postgres_tls_ca_file: Path | None = None
    postgres_tls_cert_file: Path | None = None
    postgres_tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _database_url_from_file(self) -> Self:
        if self.database_url_file is not None:
            self.database_url = read_secret_file(self.database_url_file, "database_url")
        return self

    def postgres_tls_files(self) -> tuple[Path | None, Path | None, Path | None]:
        return self.postgres_tls_ca_file, self.postgres_tls_cert_file, self.postgres_tls_key_file

    def postgres_tls_url(self, url: str) -> str:
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
