"""The composition root: every long-lived object, built once from resolved settings."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from psycopg_pool import ConnectionPool

from commands.application import ClinicApplication
from infra.auth.tokens import TokenService
from infra.eventstore import ensure_schema, eventsourcing_env
from infra.messaging import build_publisher
from infra.readmodels.build import create_read_model_tables
from infra.settings import Settings
from projections.ports import MessagePublisher


@dataclass
class Container:
    settings: Settings
    app: ClinicApplication
    pool: ConnectionPool
    redis: redis.Redis
    publisher: MessagePublisher
    tokens: TokenService

    @classmethod
    def build(cls, settings: Settings) -> Container:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("database and Redis URLs must be resolved (infra/runtime.py)")
        ensure_schema(settings.database_url, settings.db_schema)
        create_read_model_tables(settings.database_url, settings.db_schema)
        pool = ConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=10,
            open=True,
            kwargs={"options": f"-c search_path={settings.db_schema}"},
            name="read-models",
        )
        return cls(
            settings=settings,
            app=ClinicApplication(env=eventsourcing_env(settings.database_url,
                                                        settings.db_schema)),
            pool=pool,
            redis=redis.Redis.from_url(settings.redis_url, socket_timeout=5),
            publisher=build_publisher(settings.kafka_bootstrap, settings.resolved_data_dir()),
            tokens=TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer),
        )

    def close(self) -> None:
        self.publisher.close()
        self.redis.close()
        self.pool.close()
        self.app.close()
