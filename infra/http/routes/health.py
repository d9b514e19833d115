"""Liveness and readiness probes (public)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from infra.http.deps import ContainerDep
from infra.wiring.container import Container

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not-ready"]
    checks: dict[str, bool]


@router.get("/healthz", response_model=Health)
async def read_health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def read_readiness(container: ContainerDep) -> JSONResponse:
    """PostgreSQL, Redis and Kafka (or the local sink) are reachable."""
    checks = await asyncio.to_thread(_check_all, container)
    ready = all(checks.values())
    body = Readiness(status="ready" if ready else "not-ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _check_all(container: Container) -> dict[str, bool]:
    return {
        "postgres": _safely(lambda: _postgres_ok(container)),
        "redis": _safely(lambda: bool(container.redis.ping())),
        "messages": _safely(container.publisher.ready),
    }


def _postgres_ok(container: Container) -> bool:
    with container.pool.connection(timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _safely(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
