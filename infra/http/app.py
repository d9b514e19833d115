"""The FastAPI app factory: routers, problem handlers, request context, lifespan."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI

from infra.http.audit import record_denial
from infra.http.openapi import install_problem_responses
from infra.http.problems import install_problem_handlers
from infra.http.request_context import RequestContextMiddleware
from infra.http.routes import ROUTERS
from infra.observability.logging import configure_logging
from infra.observability.tracing import configure_tracing, instrument_app
from infra.redis.client import async_redis_client
from infra.redis.holds import AsyncHeldSlots
from infra.settings import Settings
from infra.wiring.container import Container
from queries.db import read_pool
from web.app import install_web

DESCRIPTION = """Event-sourced booking engine for retail and virtual clinics.

Errors are RFC 9457 `application/problem+json` documents; see docs/errors.md.
Authenticate with `Authorization: Bearer <token>`; see docs/access.md."""


def create_app(container: Container | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app. Without a container, one is built from settings at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        built = container or Container.build(settings or Settings())
        app.state.container = built
        app.state.public_url = built.settings.public_url  # what web/ reads (web/session.py)
        assert built.settings.database_url
        app.state.read_pool = read_pool(built.settings.database_url, built.settings.db_schema)
        await app.state.read_pool.open()
        app.state.search_pool = read_pool(built.settings.database_url, built.settings.db_schema,
                                          generic_plans=True)
        await app.state.search_pool.open()
        app.state.async_redis = async_redis = async_redis_client(built.settings)
        app.state.held_slots = AsyncHeldSlots(async_redis)
        share_the_gil(built.settings)
        try:
            yield
        finally:
            await app.state.read_pool.close()
            await app.state.search_pool.close()
            await async_redis.aclose()
            if owned:
                built.close()

    app = FastAPI(
        title="Clinic booking engine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if container is not None:
        app.state.container = container
        app.state.public_url = container.settings.public_url
    install_problem_handlers(app, on_denial=record_denial)
    app.add_middleware(RequestContextMiddleware)
    # Route matching tries every route in order: the busiest routes come first (slot search,
    # holds, bookings, registration; docs/performance.md).
    for router in ROUTERS:
        app.include_router(router)
    install_problem_responses(app)
    install_web(app)  # the pages at / (web/: out of the OpenAPI document)
    instrument_app(app)  # server spans, when tracing is on (infra/observability/tracing.py)
    return app


def app_from_environment() -> FastAPI:
    """uvicorn factory for `clinic serve` workers: settings come from CLINIC_* variables."""
    settings = Settings()
    configure_logging(settings.log_level)
    configure_tracing("api")
    return create_app(settings=settings)


def share_the_gil(settings: Settings) -> None:
    """Sync handlers (the write side) run in a thread pool; every runnable thread competes with
    the event loop for the GIL, so 40 of them (anyio's default) starve the async read side.
    A few threads keep the loop responsive; requests past them wait their turn in the pool's
    queue (docs/performance.md)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
    sys.setswitchinterval(settings.gil_switch_ms / 1000)
