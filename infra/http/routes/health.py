"""Liveness and readiness probes (public)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from infra.http.deps import ContainerDep
from infra.observability.projection_lag import FollowerState, ProjectionLag
from infra.observability.state import PROJECTORS
from infra.wiring.container import Container

router = APIRouter(tags=["health"])
LAGGING_AFTER_SECONDS = 60.0  # a follower whose oldest unapplied event is older is "behind"


class Health(BaseModel):
    status: Literal["ok"]


Status = Literal["ready", "degraded", "not-ready"]


class Readiness(BaseModel):
    status: Status
    checks: dict[str, bool]
    degraded: list[str] = Field(
        default=[], examples=[["slot_search: stuck at event 1234"]],
        description="Log followers stuck on an event or over a minute behind: the API "
                    "answers, but searches and lists may be stale (`clinic projections "
                    "status` says why).")


@router.get("/healthz", response_model=Health)
async def read_health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def read_readiness(container: ContainerDep) -> JSONResponse:
    """PostgreSQL, Redis and Kafka (or the local sink) are reachable (else 503); and whether
    every log follower keeps up (else 200 `degraded`: another replica would not do better,
    they share the read models)."""
    checks = await asyncio.to_thread(_check_all, container)
    ready = all(checks.values())
    degraded = await asyncio.to_thread(_degraded, container) if ready else []
    status: Status = "not-ready" if not ready else "degraded" if degraded else "ready"
    body = Readiness(status=status, checks=checks, degraded=degraded)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _check_all(container: Container) -> dict[str, bool]:
    return {
        "postgres": _safely(lambda: _postgres_ok(container)),
        "redis": _safely(lambda: bool(container.redis.ping())),
        "messages": _safely(container.publisher.ready),
    }


def _degraded(container: Container) -> list[str]:
    try:
        _, states = ProjectionLag(container.pool, container.settings.db_schema, container.app,
                                  PROJECTORS).states()
    except Exception:
        return ["followers: their positions could not be read"]
    return [line for state in states if (line := _trouble(state))]


def _trouble(state: FollowerState) -> str | None:
    if state.failure is not None:
        return f"{state.name}: stuck at event {state.failure.position}"
    if state.lag_seconds > LAGGING_AFTER_SECONDS:
        return f"{state.name}: {state.lag_events} events ({state.lag_seconds:.0f} s) behind"
    return None


def _postgres_ok(container: Container) -> bool:
    with container.pool.connection(timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _safely(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
