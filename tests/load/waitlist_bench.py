"""The waitlist's matcher with many waiting entries: the cost of one step for a freed time
(the line's query, the entries, patients and consents read, the hold, the offer saved) and
the time from a cancellation's commit to its offer being recorded, projection included.

    python -m tests.load.waitlist_bench --entries 10000 --freed 20

Not a pass/fail test (docs/performance.md). The notifier's email after the offer is the same
path as every other message (relay, Kafka, SMTP) and is measured by the relay benchmark.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from commands.booking import BookingCreate
from commands.context import Actor
from commands.waitlist_models import WaitlistJoin
from domain.access import Role
from domain.openings import Opening
from infra.wiring.container import Container
from infra.wiring.waitlist import build_offers
from tests.builders import build_world
from tests.driver import drive
from tests.e2e.clinic_flow import project_all
from tests.e2e.waitlist_flow import bookable_slot_ids
from tests.load.common import report, servers


def _ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)] * 1000, 1)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    with servers() as srv:
        container = Container.build(srv.settings())
        try:
            return _measure(container, args)
        finally:
            container.close()


def _measure(container: Container, args: argparse.Namespace) -> dict[str, Any]:
    world = build_world(drive(container), horizon_days=30)
    project_all(container)
    use_cases = container.use_cases
    patients = [Actor(subject=str(drive(container).ready_patient(
        "Wait", f"Er{n}", f"wait{n}@example.org")), role=Role.patient)
        for n in range(args.patients)]
    until = datetime.now(UTC) + timedelta(days=30)
    started = time.perf_counter()
    for n in range(args.entries):  # most wait for another provider: the line filters them
        use_cases.waitlist.join(WaitlistJoin(
            service_id=world.checkup, not_after=until,
            provider_id=world.provider if n % 10 == 0 else world.second_provider),
            patients[n % len(patients)])
    joined_per_s = args.entries / (time.perf_counter() - started)
    leaving = Actor(subject=str(drive(container).ready_patient("L", "V", "l@example.org")),
                    role=Role.patient)
    slots = bookable_slot_ids(container, world.provider, world.checkup, args.freed)
    project_all(container)
    offers, board, resources = build_offers(container.settings)
    steps, latencies = [], []
    try:
        for slot_id in slots:
            booked = use_cases.bookings.book(BookingCreate(slot_id=slot_id), leaving).result
            cancelled = use_cases.bookings.cancel(booked.id, "", leaving)
            committed = time.perf_counter()
            project_all(container)  # the waitlist read model sees the freed time
            began = time.perf_counter()
            outcome = offers.advance(Opening.create_id(booked.id, cancelled.version),
                                     booked.id, None, datetime.now(UTC))
            done = time.perf_counter()
            assert outcome == "offered", outcome
            steps.append(done - began)
            latencies.append(done - committed)
        line = []
        opening = container.app.find(Opening, Opening.create_id(booked.id, cancelled.version))
        assert opening is not None
        for _ in range(50):
            began = time.perf_counter()
            board.in_line_for(opening.freed, (), 20)
            line.append(time.perf_counter() - began)
    finally:
        for resource in resources:
            resource.close()
    return {"entries": args.entries, "joins_per_s": round(joined_per_s, 1),
            "matcher_step": _ms(steps), "line_query": _ms(line),
            "cancel_commit_to_offer_recorded": _ms(latencies),
            "note": "offer latency excludes the matcher's poll interval (2 s) and the "
                    "projection's gather (50 ms) of a running deployment"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--freed", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/waitlist.json"))
    args = parser.parse_args()
    report(run(args), args)


if __name__ == "__main__":
    main()
