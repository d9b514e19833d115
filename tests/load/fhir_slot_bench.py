"""FHIR Slot search beside GET /slots: the same open-loop rate, the same slot count, the same
random pages, one run (docs/performance.md).

    .venv/bin/python -m tests.load.fhir_slot_bench                  # ~3 minutes (100k slots)
    .venv/bin/python -m tests.load.fhir_slot_bench --slots 2000 --duration 2   # smoke

Each stream sends, at `--rate` per second for `--duration` seconds, a page of 20 open slots
from a random start within the horizon, with no filter or one (clinic 40 %, service 30 %,
provider 20 %, none 10 %): `GET /slots?...` and its FHIR twin `GET /fhir/R4/Slot?...`
(`schedule.actor=Location/…`, `service-type=…`, `schedule.actor=Practitioner/…`). Prints
p50/p95/p99, throughput and errors of both, their p95 ratio, and pgbench in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path

import psycopg

from infra.postgres.read_models import slot_search_read_model
from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from projections.runner import CatchUpRunner
from tests.driver import seeding_driver
from tests.load.common import api_server, pgbench_baseline, print_table, save_results, servers
from tests.load.openloop import get, run_open_loop
from tests.load.slot_search_bench import World, random_page, slot_search_request

FHIR_FILTERS = {"clinic": "schedule.actor=Location/", "service": "service-type=",
                "provider": "schedule.actor=Practitioner/"}


def fhir_slot_request(world: World, rnd: random.Random) -> Callable[[int], bytes]:
    """GET /slots's pages (`random_page`) asked of the FHIR face."""
    def make(_: int) -> bytes:
        start, by, value = random_page(world, rnd)
        query = f"/fhir/R4/Slot?_count=20&start=ge{start}"
        return get(query + (f"&{FHIR_FILTERS[by]}{value}" if by else ""))
    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/fhir_slot.json"))
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        app = seeding_driver(Settings(database_url=srv.database_url, redis_url=srv.redis.url))
        model = slot_search_read_model(srv.database_url, "public")
        world = World(app)
        world.grow_to(args.slots)
        CatchUpRunner(app, model, batch_size=100).catch_up()
        with psycopg.connect(srv.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
            count_row = conn.execute("SELECT count(*) FROM open_slots").fetchone()
        slots = count_row[0] if count_row else 0
        with api_server(srv, args.workers) as port:
            for name, request in (("GET /slots", slot_search_request),
                                  ("GET /fhir/R4/Slot", fhir_slot_request)):
                make = request(world, random.Random(7))
                asyncio.run(run_open_loop("127.0.0.1", port, min(args.rate, 200), 3, make,
                                          "warm-up"))
                result = asyncio.run(run_open_loop("127.0.0.1", port, args.rate,
                                                   args.duration, make, name))
                rows.append({"stream": name, "open_slots": slots, **result.summary()})
        app.close()
        model.datastore.close()
        baseline = pgbench_baseline(srv.postgres, args.baseline_seconds)
    p95 = {str(row["stream"]): float(str(row["p95_ms"])) for row in rows}
    ratio = round(p95["GET /fhir/R4/Slot"] / p95["GET /slots"], 2) if p95["GET /slots"] \
        else None
    print(json.dumps(baseline))
    print_table(rows)
    print(f"p95 FHIR / JSON: {ratio}")
    save_results(args.out, {"baseline": baseline, "runs": rows, "p95_ratio": ratio,
                            "config": vars(args) | {"out": str(args.out)}})


if __name__ == "__main__":
    main()
