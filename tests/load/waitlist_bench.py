"""The waitlist's offers with many waiting entries: from a cancellation's commit to the offer
email's arrival at a real SMTP server, through the deployed pipeline, and the matcher's cost
per freed slot.

    .venv/bin/python -m tests.load.waitlist_bench            # full run (about 7 minutes)
    .venv/bin/python -m tests.load.waitlist_bench --smoke    # tiny figures, about a minute
    .venv/bin/python -m tests.load.waitlist_bench --kafka    # relay and notifier on Kafka

Real PostgreSQL and Redis (tests/load/common.servers). --entries patients' entries join the
waitlist through the use cases (one in ten for the provider whose time is freed). Then
`clinic project` (read models, the offer matcher), `clinic relay` and `clinic notify` run as
processes (without --kafka: the local sink, as `clinic serve` runs them) sending to the tests'
SMTP server (tests/harness/smtp.py), which notes each email's arrival. Phases:

1. Latency. One at a time, a patient books a slot and cancels it (after a random pause, so
   cancellations fall anywhere in the matcher's poll); timed from the cancel's return (just
   after its commit) to the Opening's Offered event (its timestamp, taken in the matcher just
   before its commit) and to the offer email's arrival. Same machine, same wall clock.
2. Burst. --burst slots are freed back to back: the time until every offer email arrived.
3. Matcher step. The pipeline stopped, the offers use case's step for a freed time is timed
   here, alone (the cost per freed slot), and the line's query.
4. pgbench simple-update of the same PostgreSQL server, and the load average throughout.

Not a pass/fail test (docs/performance.md).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from tests.load.common import pgbench_baseline, report, servers
from tests.load.waitlist_freeing import Freeing, timings
from tests.load.waitlist_pipeline import (
    broker,
    cpu_delta,
    load_average,
    percentiles_ms,
    pipeline,
)

LIMITS = ("the read models' gather (follower_gather_ms=50) before the waitlist model shows "
          "the freed time (its NOTIFY then wakes the matcher), the matcher's step, the relay's "
          "gather (50 ms), the notifier's fetch and one SMTP conversation")


_STARTED = time.perf_counter()


def _say(text: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {text}", flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with servers() as srv, broker(args.kafka) as bootstrap:
        settings = srv.settings()
        container = Container.build(settings)
        try:
            figures = _setup(container, args)
            with pipeline(srv, bootstrap) as pipe:
                freeing = Freeing(container, pipe, figures.pop("_leaving"),
                                  figures.pop("_slots"), args.timeout)
                figures |= _pipeline_phases(freeing, pipe, args)
            figures["load_average"]["measured"] = figures.pop("_measured_load")
            _say(f"timing {args.steps} matcher steps alone...")
            figures |= _matcher_step(container, freeing, args.steps)
        finally:
            container.close()
        _say("measuring the PostgreSQL baseline (pgbench simple-update)...")
        figures["pgbench"] = pgbench_baseline(srv.postgres, args.baseline_seconds,
                                              args.pgbench_scale)
    figures["load_average"]["end"] = load_average()
    figures["limits"] = LIMITS
    return figures


def _setup(container: Container, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"entries": args.entries, "pipeline": (
        "clinic project + clinic relay + clinic notify, "
        + ("Kafka" if args.kafka else "local sink (no Kafka)") + ", SMTP (aiosmtpd)"),
        "load_average": {"start": load_average()}}
    world = build_world(drive(container), horizon_days=30)
    project_all(container)
    patients = [Actor(subject=str(drive(container).ready_patient(
        "Wait", f"Er{n}", f"wait{n}@example.org")), role=Role.patient)
        for n in range(args.patients)]
    until = datetime.now(UTC) + timedelta(days=30)
    _say(f"joining {args.entries} waitlist entries...")
    started = time.perf_counter()
    for n in range(args.entries):  # most wait for another provider: the line filters them
        provider = world.provider if n % args.matching == 0 else world.second_provider
        container.use_cases.waitlist.join(WaitlistJoin(
            service_id=world.checkup, not_after=until, provider_id=provider),
            patients[(n // args.matching) % len(patients)])  # each waits for both providers
    figures["joins_per_s"] = round(args.entries / (time.perf_counter() - started), 1)
    figures["_leaving"] = Actor(subject=str(drive(container).ready_patient(
        "L", "V", "leaving@example.org")), role=Role.patient)
    needed = args.freed + args.burst + args.steps + 1
    if needed > args.entries // args.matching:
        raise RuntimeError(f"{needed} slots freed but only {args.entries // args.matching} "
                           "entries wait for them: raise --entries or lower --matching")
    figures["_slots"] = bookable_slot_ids(container, world.provider, world.checkup, needed)
    if len(figures["_slots"]) < needed:
        raise RuntimeError(f"only {len(figures['_slots'])} bookable slots, {needed} needed")
    project_all(container)
    return figures


def _pipeline_phases(freeing: Freeing, pipe: Any, args: argparse.Namespace
                     ) -> dict[str, Any]:
    _say("pipeline catching up...")
    caught_up = freeing.catch_up()
    _say("warm-up: one offer through every process...")
    freeing.one()
    _say(f"the pipeline's idle CPU for {args.idle_seconds:.0f}s...")
    cpu_idle_before = pipe.cpu_seconds()
    time.sleep(args.idle_seconds)
    idle = cpu_delta(cpu_idle_before, pipe.cpu_seconds())
    idle_per_s = {role: round(used / args.idle_seconds, 3) for role, used in idle.items()}
    measured_load = load_average()

    _say(f"freeing {args.freed} slots one at a time...")
    rng = random.Random(22)
    cpu_before, began = pipe.cpu_seconds(), time.perf_counter()
    results = []
    for n in range(args.freed):
        time.sleep(rng.uniform(0, args.pause))
        results.append(freeing.one())
        if n % 10 == 9:
            _say(f"  {n + 1}/{args.freed} freed")
    wall = time.perf_counter() - began
    cpu = cpu_delta(cpu_before, pipe.cpu_seconds())
    sequential = timings(results)
    per_slot = {role: round(used / max(1, args.freed) * 1000, 1) for role, used in cpu.items()}
    above_idle = {role: round((used - idle_per_s[role] * wall) / max(1, args.freed) * 1000, 1)
                  for role, used in cpu.items()}

    _say(f"freeing {args.burst} slots back to back...")
    burst, _ = freeing.burst(args.burst)
    pipe.settle(2.0, 120)  # a second email for an offer would have come by now
    errors = freeing.errors()
    return {**sequential, "burst": burst, "errors": errors,
            "pipeline_catch_up_s": round(caught_up, 1),
            "pipeline_cpu": {"idle_cpu_s_per_s": idle_per_s,
                             "sequential_phase_cpu_s": cpu,
                             "sequential_phase_wall_s": round(wall, 1),
                             "cpu_ms_per_freed_slot": per_slot,
                             "cpu_ms_per_freed_slot_above_idle": above_idle},
            "_measured_load": measured_load}


def _matcher_step(container: Container, freeing: Freeing, count: int) -> dict[str, Any]:
    """The offers use case's step for one freed time, alone: the matcher's cost per slot."""
    offers, board, resources = build_offers(container.settings)
    steps, line = [], []
    try:
        for _ in range(count):
            opening_id, freed_by = freeing.free_quietly()
            project_all(container)  # the waitlist read model sees the freed time
            began = time.perf_counter()
            outcome = offers.advance(opening_id, freed_by, None, datetime.now(UTC))
            steps.append(time.perf_counter() - began)
            assert outcome == "offered", outcome
        opening = container.app.find(Opening, opening_id)
        assert opening is not None
        for _ in range(50):
            began = time.perf_counter()
            board.in_line_for(opening.freed, (), 20)
            line.append(time.perf_counter() - began)
    finally:
        for resource in resources:
            resource.close()
    return {"matcher_step": percentiles_ms(steps), "line_query": percentiles_ms(line)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--matching", type=int, default=10,
                        help="one entry in this many waits for the provider whose time is freed")
    parser.add_argument("--freed", type=int, default=100, help="slots freed one at a time")
    parser.add_argument("--burst", type=int, default=40, help="slots freed back to back")
    parser.add_argument("--steps", type=int, default=20, help="matcher steps timed alone")
    parser.add_argument("--pause", type=float, default=2.0,
                        help="up to this many seconds (random) before each cancellation")
    parser.add_argument("--idle-seconds", type=float, default=10.0,
                        help="the pipeline's idle CPU is measured this long")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for one offer email")
    parser.add_argument("--kafka", action="store_true",
                        help="relay and notifier on a real Kafka broker")
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="tiny figures, about a minute")
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/waitlist.json"))
    args = parser.parse_args()
    if args.smoke:
        args.entries, args.patients, args.matching = 30, 3, 3  # 10 entries in line
        args.freed, args.burst, args.steps = 3, 3, 2
        args.pause, args.idle_seconds, args.baseline_seconds, args.pgbench_scale = (
            0.5, 1.0, 1, 1)
    report(run(args), args)


if __name__ == "__main__":
    main()
