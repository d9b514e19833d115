"""Resolve where PostgreSQL and Redis are: configured servers, or embedded ones we start.

The embedded servers live under CLINIC_DATA_DIR and stop when the runtime exits.
Resolved URLs are exported as CLINIC_* variables so worker processes see the same.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from types import TracebackType

import structlog

from infra.embedded.postgres import EmbeddedPostgres
from infra.embedded.redis import EmbeddedRedis
from infra.settings import Settings

log = structlog.get_logger("clinic.runtime")
DATABASE_NAME = "clinic"


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = ExitStack()

    def __enter__(self) -> Settings:
        data_dir = self.settings.resolved_data_dir()
        updates: dict[str, str] = {"CLINIC_DATA_DIR": str(data_dir)}
        try:
            if not self.settings.database_url:
                pg = self._stack.enter_context(EmbeddedPostgres(data_dir / "postgres"))
                updates["CLINIC_DATABASE_URL"] = pg.create_database(DATABASE_NAME)
                log.info("embedded postgres started", port=pg.port, folder=str(pg.folder))
            if not self.settings.redis_url:
                rd = self._stack.enter_context(EmbeddedRedis(data_dir / "redis"))
                updates["CLINIC_REDIS_URL"] = rd.url
                log.info("embedded redis started", port=rd.port)
        except BaseException:
            self._stack.close()
            raise
        os.environ.update(updates)
        self.settings = self.settings.model_copy(
            update={
                "data_dir": data_dir,
                # Only what we started: a configured URL keeps what validation added (TLS).
                "database_url": updates.get("CLINIC_DATABASE_URL", self.settings.database_url),
                "redis_url": updates.get("CLINIC_REDIS_URL", self.settings.redis_url),
            }
        )
        return self.settings

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()
        log.info("embedded servers stopped")
