"""The waitlist's steps for the e2e tests: join over HTTP, and the offer matcher driven by
hand on a clock the test moves (the real matcher, on the test's servers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.waitlist import build_matcher
from projections.waitlist import OfferMatcher


@dataclass
class Clock:
    """Now, plus however far the test moved it."""

    ahead: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class Matching:
    matcher: OfferMatcher
    clock: Clock
    project: Any

    def step(self) -> dict[str, int]:
        """Read models caught up, one matcher pass, caught up again."""
        self.project()
        outcomes = self.matcher.run_once()
        self.project()
        return outcomes


@contextmanager
def matching(settings: Settings, project: Any) -> Iterator[Matching]:
    clock = Clock()
    matcher, resources = build_matcher(settings, clock=clock)
    try:
        yield Matching(matcher, clock, project)
    finally:
        for resource in resources:
            resource.close()


def join(client: TestClient, headers: dict[str, str], service_id: str,
         until: str, **constraints: Any) -> dict[str, Any]:
    """Join the waitlist for a service until `until`; the entry."""
    joined = client.post("/waitlist/entries", headers=headers,
                         json={"service_id": service_id, "not_after": until, **constraints})
    assert joined.status_code == 201, joined.text
    entry: dict[str, Any] = joined.json()
    return entry


def entry(client: TestClient, headers: dict[str, str], entry_id: str) -> dict[str, Any]:
    read = client.get(f"/waitlist/entries/{entry_id}", headers=headers)
    assert read.status_code == 200, read.text
    found: dict[str, Any] = read.json()
    return found


def bookable_slot_ids(container: Container, provider_id: UUID, service_id: UUID, limit: int,
                      offset: int = 0) -> list[UUID]:
    """Slots of the provider and service that can still be booked for an hour, soonest
    first, as slot search has them."""
    with container.pool.connection() as conn:
        return [row[0] for row in conn.execute(
            "SELECT slot_id FROM open_slots WHERE provider_id = %s AND service_id = %s AND "
            "book_by > now() + interval '1 hour' ORDER BY start_at OFFSET %s LIMIT %s",
            (provider_id, service_id, offset, limit)).fetchall()]

