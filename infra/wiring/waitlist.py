"""`clinic project`'s offer matcher: the schedule and the line over the waitlist read model,
each step taken by the offers use case on the event store, holds in Redis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from commands.offers import Offers
from infra.crypto.derived_keys import derived_keys
from infra.eventstore.application import FOLLOWER_POOL, build_application
from infra.eventstore.log_listener import ChannelListener
from infra.postgres.read_model import utc_now
from infra.postgres.read_models import create_read_model_tables
from infra.postgres.slot_catalog import PostgresSlotCatalog
from infra.postgres.waitlist import PostgresWaitlistBoard, matcher_channel
from infra.redis.client import redis_client
from infra.redis.holds import RedisHolds
from infra.settings import Settings
from projections.waitlist import OfferMatcher


def build_offers(settings: Settings) -> tuple[Offers, PostgresWaitlistBoard, list[Any]]:
    """The offers use case on the configured servers, its board, and what to close."""
    assert settings.database_url
    create_read_model_tables(settings.database_url, settings.db_schema)
    app = build_application(settings, open_phi=False, pool_size=FOLLOWER_POOL)
    pool: ConnectionPool[Any] = ConnectionPool(
        settings.database_url, min_size=1, max_size=2, open=True, name="offers",
        kwargs={"options": f"-c search_path={settings.db_schema}", "autocommit": True})
    board = PostgresWaitlistBoard(settings.database_url, settings.db_schema)
    redis = redis_client(settings)
    offers = Offers(app, PostgresSlotCatalog(pool), RedisHolds(redis), board,
                    derived_keys(settings).waitlist_offers,
                    timedelta(minutes=settings.waitlist_offer_minutes))
    return offers, board, [board, pool, redis, app]


def build_matcher(settings: Settings, clock: Any = utc_now,
                  **options: Any) -> tuple[OfferMatcher, list[Any]]:
    """The matcher, and what to close after it stopped."""
    offers, board, resources = build_offers(settings)
    matcher = OfferMatcher(board, offers.advance, offers.expire_entry, clock,
                           open_hours=offers.open_new_hours, **options)
    url = settings.database_url
    assert url
    matcher.listener = listener = ChannelListener(
        lambda: psycopg.connect(url, autocommit=True), matcher_channel(settings.db_schema))
    return matcher, [listener, *resources]
