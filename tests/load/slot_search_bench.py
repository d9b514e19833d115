"""Slot search benchmark: GET /slots at a fixed open-loop rate over 10k, 100k and 1M slots.

    .venv/bin/python -m tests.load.slot_search_bench                 # full run (~6 minutes)
    .venv/bin/python -m tests.load.slot_search_bench --sizes 2000 --duration 2   # smoke

Prints, per size: projection throughput while cutting the slots, then p50/p95/p99,
throughput and error rate of GET /slots; and pgbench figures of the same PostgreSQL
server (simple-update TPS, and the bare slot-page query) as the machine's baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import psycopg

from domain.availability import AvailabilityRules
from domain.clinics import Address
from domain.modality import Modality
from infra.postgres.read_models import slot_search_read_model
from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from projections.runner import CatchUpRunner
from queries.slots import search_sql
from tests.driver import ClinicDriver, seeding_driver
from tests.load.common import api_server, pgbench_baseline, pgbench_script, print_table, servers
from tests.load.openloop import get, run_open_loop

ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
HOURS = {d: [["08:00", "12:00"], ["13:00", "18:00"]] for d in
         ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]}
HORIZON = 90
SLOTS_PER_PROVIDER = 2 * 18 * HORIZON  # two services, 18 half-hour steps a day


class World:
    def __init__(self, app: ClinicDriver, clinics: int = 12) -> None:
        self.app = app
        self.clinic_count = clinics
        self.clinics: list[UUID] = []
        self.services: list[UUID] = []
        self.providers: list[UUID] = []
        self.rules = AvailabilityRules.from_dict({"weekly": HOURS, "horizon_days": HORIZON,
                                                  "granularity_minutes": 10,
                                                  "min_notice_minutes": 0})

    def grow_to(self, slots: int) -> int:
        """Add clinics, services and providers until about `slots` open slots exist."""
        if not self.clinics:
            for i in range(self.clinic_count):
                self.clinics.append(self.app.register_clinic(
                    f"Clinic {i:02d}", Address(f"{i} Main St", "Town", "ST", "00000"),
                    ZONES[i % 4], [Modality.in_person, Modality.telehealth]))
            for name, minutes, modality in [("Consultation", 30, Modality.in_person),
                                            ("Follow-up", 20, Modality.telehealth),
                                            ("Vaccination", 15, Modality.in_person),
                                            ("Therapy", 25, Modality.telehealth)]:
                self.services.append(self.app.register_service(name, minutes, modality))
        events = 0
        while len(self.providers) * SLOTS_PER_PROVIDER < slots:
            n = len(self.providers)
            clinic = self.clinics[n % len(self.clinics)]
            services = [self.services[n % 2 * 2], self.services[n % 2 * 2 + 1]]
            pid = self.app.register_provider(f"Provider {n:04d}", [clinic], services)
            self.app.publish_availability(pid, clinic, self.rules)
            self.providers.append(pid)
            events += 2
        return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rate", type=float, default=500.0, help="searches per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per size")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/slot_search.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        app = seeding_driver(Settings(database_url=srv.database_url,
                                          redis_url=srv.redis.url))
        read_model = slot_search_read_model(srv.database_url, "public")
        runner = CatchUpRunner(app, read_model, batch_size=100)
        world = World(app)
        rows: list[dict[str, object]] = []
        for size in sizes:
            world.grow_to(size)
            started = time.perf_counter()
            applied = runner.catch_up()
            projection_s = time.perf_counter() - started
            with psycopg.connect(srv.database_url, autocommit=True) as conn:
                # Steady state before measuring: statistics fresh, the seeding's dirty pages
                # written out (a checkpoint during the run would measure the seeding).
                conn.execute("VACUUM ANALYZE")
                conn.execute("CHECKPOINT")
                count_row = conn.execute("SELECT count(*) FROM open_slots").fetchone()
            slot_count = count_row[0] if count_row else 0
            print(f"{slot_count} open slots; projected {applied} events in "
                  f"{projection_s:.1f}s", flush=True)
            db_query = pgbench_script(srv.postgres, srv.database_url, _pgbench_search(world),
                                      clients=2, seconds=max(3, args.baseline_seconds // 2))
            with api_server(srv, args.workers) as port:
                make = slot_search_request(world, random.Random(size))
                asyncio.run(run_open_loop("127.0.0.1", port, min(args.rate, 200), 3, make,
                                          "warm-up"))
                result = asyncio.run(run_open_loop("127.0.0.1", port, args.rate,
                                                   args.duration, make, "GET /slots"))
            rows.append({"open_slots": slot_count, **result.summary(),
                         "projection_events_per_s": round(applied / projection_s, 1),
                         "projection_slots_per_s": round(slot_count / projection_s),
                         "pg_slot_query_tps": round(db_query["tps"]),
                         "pg_slot_query_ms": db_query["latency_ms"]})
        app.close()
        read_model.datastore.close()
        # Last, so that its writes (and the autovacuum after them) disturb no measurement.
        print("measuring the PostgreSQL baseline (pgbench simple-update)...", flush=True)
        baseline = pgbench_baseline(srv.postgres, args.baseline_seconds, args.pgbench_scale)
    print()
    print(json.dumps(baseline))
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"baseline": baseline, "runs": rows,
                                    "rate": args.rate, "duration_s": args.duration,
                                    "workers": args.workers,
                                    "measured_at": datetime.now(UTC).isoformat()}, indent=2))
    print(f"results written to {args.out}")


def random_page(world: World, rnd: random.Random) -> tuple[str, str | None, UUID | None]:
    """A page someone searches: a random start within the horizon, and no filter or one
    (clinic 40 %, service 30 %, provider 20 %, none 10 %)."""
    start = datetime.now(UTC) + timedelta(hours=rnd.randrange(0, 24 * (HORIZON - 8)))
    choice = rnd.random()
    by, among = next(((by, among) for limit, by, among in (
        (0.4, "clinic", world.clinics), (0.7, "service", world.services),
        (0.9, "provider", world.providers)) if choice < limit), (None, []))
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), by, rnd.choice(among) if among else None


def slot_search_request(world: World, rnd: random.Random) -> Callable[[int], bytes]:
    """GET /slots requests: `random_page`s of 20 slots."""
    def make(_: int) -> bytes:
        start, by, value = random_page(world, rnd)
        query = f"/slots?limit=20&start_from={start}"
        return get(query + (f"&{by}_id={value}" if by else ""))
    return make


def _pgbench_search(world: World) -> str:
    """The search query of one page, bare, as pgbench runs it (clinic filter)."""
    sql = " ".join(search_sql(frozenset({"clinic"})).split())
    params = {"from": "now() + (random(0, 24*80) || ' hours')::interval",
              "to": "now() + interval '100 days'", "after_start": "'-infinity'::timestamptz",
              "after_id": "'00000000-0000-0000-0000-000000000000'::uuid",
              "clinic": f"'{world.clinics[0]}'::uuid", "limit": "21"}
    for key, value in params.items():
        sql = sql.replace(f"%({key})s", value)
    return sql + ";\n"


if __name__ == "__main__":
    main()
