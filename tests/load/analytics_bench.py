"""The analytics projection at scale: how fast it applies events while bookings come in and
how far behind it stays, and how long `clinic projections rebuild analytics` takes over a
large event log (issue 23).

    .venv/bin/python -m tests.load.analytics_bench                     # 200k and 1M events, ~15 min
    .venv/bin/python -m tests.load.analytics_bench --sizes 200000      # ~6 minutes
    .venv/bin/python -m tests.load.analytics_bench --smoke             # a minute

Real PostgreSQL and Redis (tests/load/common.py). A directory of 12 clinics in four US zones
and providers with published hours (tests/load/slot_search_bench.py's World), patients who
registered, verified and consented (tests/load/booking_bench.py), then:

1. Under load: `clinic serve --no-projectors` takes POST /bookings open-loop (the booking
   benchmark's mix: random soonest slots, a third of them popular, so some race and get 409)
   while the analytics projector follows the log in this process (tests/load/command_cpu.py's
   follower thread); its position and the log's head are sampled every 100 ms. Prints the
   bookings' p50/p95/p99 and error rate, the projector's events/s while it worked (applied
   events / time inside its batches) and its lag p50/p95/p99 in events and in seconds (how
   long ago the oldest event it had not applied was recorded).
2. Rebuild: the event log is grown to each of `--sizes` events with appointments written
   straight through the event store in large batches by `--writers` processes (booked; a
   tenth moved; then a fifth cancelled, a tenth no-shows, half checked in and completed;
   over `--providers` providers in 12 clinics and the next 60 days, about 17 visits a
   provider-day at 1M events; no request path, so a million events take minutes, not
   hours), and `clinic projections rebuild analytics` replays the whole log from position
   zero in a process of its own.
   Prints its wall time, events/s, and the p50/p95/p99 of the time between its commits (one
   per batch of 2,000 events; the tracking position sampled every 50 ms).
3. This machine's pgbench simple-update baseline, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import redis

from infra.auth.tokens import TokenService
from infra.crypto.phi import PhiCipher
from infra.postgres.read_models import read_model
from infra.postgres.tables import ensure_schema
from infra.redis.sessions import PatientSessions
from infra.settings import Settings
from projections.runner import CatchUpRunner
from tests.driver import seeding_driver
from tests.load.booking_bench import open_slot_ids, seed_patients
from tests.load.command_cpu import AuditFollowers
from tests.load.common import (
    Progress,
    Servers,
    api_server,
    follower_positions,
    pgbench_baseline,
    report,
    servers,
)
from tests.load.openloop import percentile, post, run_open_loop
from tests.load.slot_search_bench import World

BATCH = 250  # appointments per transaction of the generator (about 700 events)
SERVICES = ((30, "in_person"), (20, "telehealth"), (15, "in_person"), (25, "telehealth"))


class AnalyticsFollower(AuditFollowers):
    """The analytics projector in a thread (as `clinic project` runs it), and the sampler of
    how far behind it is; counts the events it applied and the time it spent applying."""

    NAMES = ("analytics",)

    def __init__(self, settings: Settings) -> None:
        self.applied, self.busy = 0, 0.0
        super().__init__(settings)

    def _follow(self) -> None:
        runner = self.runners[0]
        while not self.stopping.is_set():
            began = time.perf_counter()
            applied = runner.run_once()
            if applied:
                self.busy += time.perf_counter() - began
                self.applied += applied
            else:
                self.stopping.wait(0.02)

    def lag_figures(self) -> dict[str, float]:
        """Lag percentiles over the samples taken so far (events and seconds behind)."""
        behind = [head - slowest for _, head, slowest in self.samples]
        seconds = [self._age(at, slowest) for at, _, slowest in self.samples]
        figures: dict[str, float] = {}
        for q in (50, 95, 99):
            figures[f"lag_events_p{q}"] = percentile(behind, q)
            figures[f"lag_seconds_p{q}"] = round(percentile(seconds, q), 3)
        return figures


def under_load(srv: Servers, settings: Settings, bearer: list[str], args: argparse.Namespace
               ) -> dict[str, Any]:
    slots = open_slot_ids(srv.database_url, 40_000)
    rnd = random.Random(7)
    hot = slots[: max(50, len(slots) // 20)]

    def booking(i: int) -> bytes:
        slot = rnd.choice(hot) if rnd.random() < 0.3 else rnd.choice(slots)
        return post("/bookings", json.dumps({"slot_id": str(slot)}).encode(),
                    {"Authorization": rnd.choice(bearer),
                     "Idempotency-Key": f"a-{i}-{rnd.random()}"})

    env = {"CLINIC_RATE_LIMIT_SCALE": "100000", "CLINIC_MAX_UPCOMING_VISITS": "500"}
    with api_server(srv, args.workers, env) as port:
        asyncio.run(run_open_loop("127.0.0.1", port, 10, 2, booking, "warm-up"))
        follower = AnalyticsFollower(settings)  # caught up with everything before the load
        cpu = time.process_time()
        result = asyncio.run(run_open_loop("127.0.0.1", port, args.booking_rate,
                                           args.load_seconds, booking, "POST /bookings"))
        lag = follower.lag_figures()
        drain = follower.stop()
        cpu = time.process_time() - cpu
    summary = result.summary()
    figures = {f"load_bookings_{k}": summary[k] for k in
               ("sent", "throughput_rps", "p50_ms", "p95_ms", "p99_ms", "error_rate",
                "statuses")}
    return figures | {
        "load_analytics_events_applied": follower.applied,
        "load_analytics_events_per_s_busy": round(follower.applied / follower.busy, 1)
        if follower.busy else 0.0,
        "load_analytics_events_per_s_wall": round(follower.applied / args.load_seconds, 1),
        "load_analytics_busy_share": round(follower.busy / args.load_seconds, 3),
        "load_bench_process_cpu_s": round(cpu, 1),
        **{f"load_analytics_{k}": v for k, v in lag.items()},
        "load_analytics_lag_samples": drain["samples"],
        "load_analytics_drain_after_load_s": drain["drain_after_last_request_s"]}


def _generator(settings: Settings, plan: list[tuple[UUID, UUID, UUID, int, str]],
               patients: list[UUID], events: int, seed: int, out: Any) -> None:
    """Write appointments and their lifecycles until `events` events were written."""
    from domain.appointments import Appointment
    from infra.wiring.container import Container

    container = Container.build(settings)
    rnd, written = random.Random(seed), 0
    day0 = datetime.combine(date.today() + timedelta(days=1), datetime.min.time(), UTC)
    cutoff = timedelta(hours=24)
    try:
        while written < events:
            batch, now = [], datetime.now(UTC)
            for _ in range(BATCH):
                provider, clinic, service, minutes, modality = rnd.choice(plan)
                start = day0 + timedelta(days=rnd.randrange(60), hours=13 + rnd.randrange(9),
                                         minutes=10 * rnd.randrange(6))
                visit = Appointment.book(rnd.choice(patients), provider, clinic, service,
                                         uuid4(), start, start + timedelta(minutes=minutes),
                                         modality, "bench visit")
                if rnd.random() < 0.1:
                    moved = start + timedelta(days=rnd.randrange(1, 8))
                    visit.reschedule(uuid4(), moved, moved + timedelta(minutes=minutes), now)
                fate = rnd.random()
                if fate < 0.2:
                    visit.cancel(start - timedelta(hours=rnd.choice((2, 48))), cutoff,
                                 "bench cancellation")
                elif fate < 0.3:
                    visit._no_show()  # the rule "the visit has started" is the clock's
                elif fate < 0.8:
                    visit.check_in()
                    visit.complete()
                written += len(visit.pending_events)
                batch.append(visit)
            container.app.save(*batch)
    finally:
        container.close()
        out.put(written)


def more_providers(settings: Settings, world: World, total: int) -> list[UUID]:
    """Providers beyond the World's (registered, without published hours) until `total`: the
    generated visits spread over them, about 17 a provider-day at 1M events, as in a real
    network, rather than hundreds on each of the World's few."""
    seeder = seeding_driver(settings)
    try:
        return [seeder.register_provider(
            f"Provider {n:04d}", [world.clinics[n % len(world.clinics)]],
            [world.services[n % 2 * 2], world.services[n % 2 * 2 + 1]])
            for n in range(len(world.providers), total)]
    finally:
        seeder.close()


def grow_log(settings: Settings, plan: list[tuple[UUID, UUID, UUID, int, str]],
             patients: list[UUID], target: int, writers: int) -> dict[str, float]:
    """Grow the event log to `target` events with `writers` generator processes."""
    assert settings.database_url
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        head = follower_positions(conn, names=())["head"]
        if head >= target:
            return {}
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        share = (target - head) // writers + 1
        started = time.perf_counter()
        procs = [ctx.Process(target=_generator,
                             args=(settings, plan, patients, share, 1000 + n + head, out))
                 for n in range(writers)]
        for proc in procs:
            proc.start()
        bar = Progress(f"log to {target:,}", target, " events")
        while any(proc.is_alive() for proc in procs):
            bar.update(follower_positions(conn, names=())["head"])
            time.sleep(0.5)
        written = sum(out.get(timeout=60) for _ in procs)
        for proc in procs:
            proc.join()
        seconds = time.perf_counter() - started
        bar.close(done=follower_positions(conn, names=())["head"])
        if any(proc.exitcode for proc in procs):
            raise RuntimeError("a generator process failed")
    return {f"log_{target}_generated_events": written,
            f"log_{target}_generated_events_per_s": round(written / seconds)}


def rebuild(srv: Servers, size: int) -> dict[str, Any]:
    """`clinic projections rebuild analytics` in a process of its own, timed; the time between
    its commits from the tracking position sampled every 50 ms."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": srv.database_url, "CLINIC_REDIS_URL": srv.redis.url,
            "CLINIC_DATA_DIR": str(srv.data_dir), "CLINIC_LOG_LEVEL": "WARNING"}
    with psycopg.connect(srv.database_url, autocommit=True) as conn:
        head = follower_positions(conn, names=())["head"]
        bar = Progress(f"rebuild {head:,}", head, " events")
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "infra.cli.main", "projections",
                                 "rebuild", "analytics"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        samples: list[tuple[float, int]] = []
        while proc.poll() is None:
            position = follower_positions(conn, names=("analytics",))["analytics"]
            samples.append((time.perf_counter(), position))
            bar.update(position)
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        stdout, stderr = proc.communicate()
        bar.close(stdout.strip(), done=head)
        if proc.returncode != 0:
            raise RuntimeError(f"rebuild failed: {stderr[-2000:]}")
        facts = conn.execute("SELECT count(*) FROM analytics.appointment_facts").fetchone()
    batches = _commit_intervals(samples)
    name = f"rebuild_{size}"
    return {f"{name}_events": head, f"{name}_seconds": round(seconds, 1),
            f"{name}_events_per_s": round(head / seconds),
            **{f"{name}_batch_ms_p{q}": round(percentile(batches, q)) for q in (50, 95, 99)},
            f"{name}_appointment_facts": int(facts[0]) if facts else 0,
            f"{name}_error_rate": 0.0}


def _commit_intervals(samples: list[tuple[float, int]]) -> list[float]:
    """Milliseconds between the commits seen in the samples (the position moves once per
    batch), from the first commit on: the time each batch took, to the sampling's 50 ms."""
    moves = [at for (_, before), (at, position) in itertools.pairwise(samples)
             if position > before]
    return [1000 * (b - a) for a, b in itertools.pairwise(moves)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--booking-rate", type=float, default=60.0)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--sizes", default="200000,1000000",
                        help="event-log sizes to rebuild at, rising")
    parser.add_argument("--writers", type=int, default=2, help="generator processes")
    parser.add_argument("--providers", type=int, default=400,
                        help="providers the generated visits spread over")
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="a minute-long run")
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/analytics.json"))
    args = parser.parse_args()
    if args.smoke:
        args.booking_rate, args.load_seconds, args.patients = 20.0, 3.0, 20
        args.sizes, args.baseline_seconds, args.providers = "20000", 2, 40
    figures: dict[str, Any] = {}
    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        settings = Settings(database_url=srv.database_url, redis_url=srv.redis.url,
                            data_dir=srv.data_dir, max_upcoming_visits=500)
        seeder = seeding_driver(settings)
        world = World(seeder)
        world.grow_to(2_000 if args.smoke else 60_000)
        assert isinstance(seeder.data_keys, PhiCipher)
        model = read_model("slot_search", srv.database_url, "public", phi=seeder.data_keys)
        CatchUpRunner(seeder.app, model, batch_size=500).catch_up()
        model.datastore.close()
        tokens = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
        sessions = PatientSessions(redis.Redis.from_url(srv.redis.url), tokens,
                                   idle_seconds=3600, absolute_seconds=3600)
        print(f"preparing {args.patients} verified patients...", flush=True)
        bearer = seed_patients(seeder, sessions, args.patients)
        with psycopg.connect(srv.database_url) as conn:  # the patients: PHI's subjects
            patients = [r[0] for r in conn.execute(
                "SELECT subject_id FROM phi_data_keys WHERE wrapped IS NOT NULL").fetchall()]
        seeder.close()
        figures |= under_load(srv, settings, bearer, args)
        providers = [*world.providers, *more_providers(settings, world, args.providers)]
        plan = [(provider, world.clinics[n % len(world.clinics)], world.services[s],
                 *SERVICES[s]) for n, provider in enumerate(providers)
                for s in (n % 2 * 2, n % 2 * 2 + 1)]
        for size in (int(s) for s in args.sizes.split(",")):
            figures |= grow_log(settings, plan, patients, size, args.writers)
            figures |= rebuild(srv, size)
        print("measuring the PostgreSQL baseline (pgbench simple-update)...", flush=True)
        figures |= pgbench_baseline(srv.postgres, args.baseline_seconds,
                                    1 if args.smoke else 10)
    report(figures, args)


if __name__ == "__main__":
    main()
