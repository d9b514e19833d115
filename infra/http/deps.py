"""FastAPI dependencies as Annotated aliases: the one place routes get their collaborators.

A route asks for exactly the use cases (or the read pool) it uses, never the container.
They are `async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool,
so a one-line accessor would cost a thread hop, and under write load wait for a free thread
behind the sync handlers (GET /slots timed out that way: docs/performance.md)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from commands.audit import Audit
from commands.booking import Bookings
from commands.consents import Consents
from commands.directory import Directory
from commands.erasure import Erasing, Retention
from commands.follow_ups import FollowUps
from commands.holds import Holding
from commands.ingest.run import Ingestion
from commands.patients import Patients
from commands.sign_in import SignIn
from commands.telehealth import Telehealth
from commands.timeline import Timeline
from commands.visits import Visits
from commands.waitlist import Waitlist
from commands.webhooks import Webhooks
from infra.crypto.phi import PhiCipher
from infra.http.client import client_ip, client_pseudonym
from infra.http.rate_limits import RateLimits
from infra.mail.dev_mailbox import DevMailbox
from infra.observability.metrics import exposition_registry
from infra.observability.state import state_collector
from infra.settings import Settings
from infra.wiring.container import Container
from projections.ports import MessagePublisher
from queries import db as queries_db


def container_of(request: Request) -> Container:
    """The app's container: read here and in the app factory only (the one locator, behind
    the typed dependencies below)."""
    container: Container = request.app.state.container
    return container


def async_redis_of(request: Request) -> Any:
    """The event loop's own Redis client (patient sessions are touched on it)."""
    return request.app.state.async_redis


def search_of(request: Request) -> tuple[Any, Any]:
    """GET /slots's pool and held-slot reader, without FastAPI's dependency resolution
    (the hot path: docs/decisions/0028-hot-read-without-parameter-resolution.md)."""
    state = request.app.state
    return state.search_pool, state.held_slots


def _use_case(name: str) -> Callable[[Request], Coroutine[Any, Any, Any]]:
    async def get(request: Request) -> Any:
        return getattr(container_of(request).use_cases, name)

    get.__name__ = f"get_{name}"
    return get


DirectoryDep = Annotated[Directory, Depends(_use_case("directory"))]
PatientsDep = Annotated[Patients, Depends(_use_case("patients"))]
SignInDep = Annotated[SignIn, Depends(_use_case("sign_in"))]
ConsentsDep = Annotated[Consents, Depends(_use_case("consents"))]
HoldingDep = Annotated[Holding, Depends(_use_case("holding"))]
BookingsDep = Annotated[Bookings, Depends(_use_case("bookings"))]
VisitsDep = Annotated[Visits, Depends(_use_case("visits"))]
TelehealthDep = Annotated[Telehealth, Depends(_use_case("telehealth"))]
ErasingDep = Annotated[Erasing, Depends(_use_case("erasing"))]
RetentionDep = Annotated[Retention, Depends(_use_case("retention"))]
AuditDep = Annotated[Audit, Depends(_use_case("audit"))]
TimelineDep = Annotated[Timeline, Depends(_use_case("timeline"))]
IngestionDep = Annotated[Ingestion, Depends(_use_case("ingestion"))]
WaitlistDep = Annotated[Waitlist, Depends(_use_case("waitlist"))]
FollowUpsDep = Annotated[FollowUps, Depends(_use_case("follow_ups"))]
WebhooksDep = Annotated[Webhooks, Depends(_use_case("webhooks"))]


async def get_phi(request: Request) -> PhiCipher:
    return container_of(request).phi


PhiDep = Annotated[PhiCipher, Depends(get_phi)]


async def get_read_pool(request: Request) -> queries_db.ReadPool:
    pool: queries_db.ReadPool = request.app.state.read_pool
    return pool


ReadPool = Annotated[queries_db.ReadPool, Depends(get_read_pool)]


async def get_public_url(request: Request) -> str:
    """Where people reach this service (CLINIC_PUBLIC_URL): links that leave the API."""
    return container_of(request).settings.public_url.rstrip("/")


PublicUrl = Annotated[str, Depends(get_public_url)]


async def get_settings(request: Request) -> Settings:
    """The deployment's settings, for a door that names something configured (a partner)."""
    return container_of(request).settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_rate_limits(request: Request) -> RateLimits:
    return RateLimits(container_of(request), client_ip(request))


Limits = Annotated[RateLimits, Depends(get_rate_limits)]


async def get_client_pseudonym(request: Request) -> str:
    """A keyed hash of the caller's address: what is kept of a signed-out caller."""
    return client_pseudonym(request, container_of(request).keys.pseudonyms)


ClientPseudonym = Annotated[str, Depends(get_client_pseudonym)]


async def get_publisher(request: Request) -> MessagePublisher:
    return container_of(request).publisher


Publisher = Annotated[MessagePublisher, Depends(get_publisher)]


async def get_mailbox(request: Request) -> DevMailbox | None:
    return container_of(request).mailbox


Mailbox = Annotated[DevMailbox | None, Depends(get_mailbox)]


async def get_container(request: Request) -> Container:
    return container_of(request)


# Only the probes take the container: they check every server it holds.
ContainerDep = Annotated[Container, Depends(get_container)]


async def get_metrics_registry(request: Request) -> CollectorRegistry:
    """One registry per app: its state collector keeps a few seconds' cache of the servers'
    figures. Built on the first scrape (the container exists from the app's start)."""
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = exposition_registry(state_collector(container_of(request)))
        request.app.state.metrics_registry = registry
    return registry


MetricsRegistry = Annotated[CollectorRegistry, Depends(get_metrics_registry)]
