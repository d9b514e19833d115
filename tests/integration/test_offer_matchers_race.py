"""Two offer matchers racing over the same freed times (a standby that took over while the
first still ran, or a matcher restarted mid-step) on real PostgreSQL and Redis: each freed
time is offered once, to one patient, no patient holds two offers, and each slot's hold is
the offer's own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from commands.booking import BookingCreate
from commands.context import Actor
from commands.waitlist_models import WaitlistJoin
from domain.access import Role
from domain.openings import Opening
from domain.waitlist import EntryStatus, WaitlistEntry
from infra.wiring.container import Container
from infra.wiring.waitlist import build_matcher
from tests.builders import build_world
from tests.driver import drive
from tests.e2e.waitlist_flow import bookable_slot_ids


def test_two_matchers_at_once_offer_each_freed_time_once(container: Container,
                                                         project: Any) -> None:
    world = build_world(drive(container))
    project()
    use_cases = container.use_cases
    waiting = []
    for n in range(6):
        patient = drive(container).ready_patient("Wait", f"Er{n}", f"wait{n}@example.org")
        actor = Actor(subject=str(patient), role=Role.patient)
        waiting.append(use_cases.waitlist.join(WaitlistJoin(
            service_id=world.checkup, not_after=datetime.now(UTC) + timedelta(days=30)),
            actor).result.id)
    leaving = Actor(subject=str(drive(container).ready_patient("Lea", "Ving", "l@example.org")),
                    role=Role.patient)
    freed = []
    for slot_id in bookable_slot_ids(container, world.provider, world.checkup, 3, offset=3):
        booked = use_cases.bookings.book(BookingCreate(slot_id=slot_id), leaving).result
        cancelled = use_cases.bookings.cancel(booked.id, "", leaving)
        freed.append(Opening.create_id(booked.id, cancelled.version))
    project()

    matchers = [build_matcher(container.settings) for _ in range(2)]
    try:
        for _round in range(3):
            barrier = threading.Barrier(2)

            def run(matcher: Any, barrier: threading.Barrier) -> None:
                barrier.wait()
                matcher.run_once()

            threads = [threading.Thread(target=run, args=(m, barrier)) for m, _ in matchers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            project()
    finally:
        for _, resources in matchers:
            for resource in resources:
                resource.close()

    offers = {opening: [e for e in container.app.events.get(opening)
                        if isinstance(e, Opening.Offered)] for opening in freed}
    assert all(len(made) == 1 for made in offers.values()), offers
    offered = [made[0].entry_id for made in offers.values()]
    assert len(set(offered)) == 3
    entries = container.app.get_many(*waiting)
    assert sorted(e.id for e in entries.values() if e.status is EntryStatus.offered) == \
        sorted(offered)
    for made in offers.values():
        entry = entries[made[0].entry_id]
        assert isinstance(entry, WaitlistEntry) and entry.offer is not None
        held = container.holds.holding(entry.offer.slot_id)
        assert held is not None and held[0].hold_id == made[0].hold_id
