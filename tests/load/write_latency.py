"""Latency of one request at a time, with and without the log followers beside the API.

    .venv/bin/python -m tests.load.write_latency                 # ~2 minutes
    .venv/bin/python -m tests.load.write_latency --smoke         # seconds

No load, no queue: `clinic serve --workers 4` on real PostgreSQL, Redis and Kafka, a small
seeded world, and GET /slots, POST /bookings (fresh slots, Idempotency-Key, a PHI reason)
and POST /patients sent one after another over one keep-alive connection. Run twice: with
the followers (projectors, relay, reminders) in the API's parent process as deployed, and
with `--no-projectors`. Prints p50/p95 per endpoint for each, and the CPU a booking costs
each process group (API workers, the API's parent with the followers, PostgreSQL, Redis,
Kafka, this client), counted until the followers have handled its events. What it
answers: how much of a write's own time is the work its events cause on the same cores
(docs/performance.md, 2026-12-07).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.load import slo_bench
from tests.load.booking_bench import open_slot_ids
from tests.load.common import (
    api_server,
    background_kafka,
    print_table,
    servers,
    wait_for_followers,
)
from tests.load.cpu import CpuMeter, api_parent_pid
from tests.load.openloop import percentile


def measure(client: httpx.Client, bearer: list[str], slots: list[str], requests: int,
            port: int, followers: str | None) -> dict[str, Any]:
    """`requests` of each endpoint, one at a time; latency in ms, and what the bookings
    cost every process on the machine, the followers' work on their events included
    (`followers`: the database they follow, None when they are not running)."""
    latencies: dict[str, list[float]] = {"GET /slots": [], "POST /bookings": [],
                                         "POST /patients": []}
    statuses: dict[str, dict[int, int]] = {name: {} for name in latencies}

    def timed(name: str, ok: set[int], method: str, path: str, **request: Any) -> None:
        started = time.perf_counter()
        answer = client.request(method, path, **request)
        latencies[name].append((time.perf_counter() - started) * 1000)
        statuses[name][answer.status_code] = statuses[name].get(answer.status_code, 0) + 1
        if answer.status_code not in ok:
            raise SystemExit(f"{name} answered {answer.status_code}: {answer.text[:300]}")

    start = datetime.now(UTC) + timedelta(days=1)
    for n in range(requests):
        at = start + timedelta(hours=n % 500)
        timed("GET /slots", {200}, "GET", "/slots",
              params={"limit": 20, "start_from": f"{at:%Y-%m-%dT%H:00:00Z}"})
    if followers:  # nothing earlier counts in the bookings' CPU
        wait_for_followers(followers, 60)
    cpu = CpuMeter(api_parent_pid(port))
    cpu.start()
    for n in range(requests):
        # 409 slot-taken: a random slot overlapping an earlier booking of its provider
        timed("POST /bookings", {201, 409}, "POST", "/bookings",
              json={"slot_id": slots.pop(), "reason": "Follow-up visit"},
              headers={"Authorization": bearer[n % len(bearer)],
                       "Idempotency-Key": str(uuid.uuid4())})
    if followers:  # the followers' work on the last bookings too
        wait_for_followers(followers, 60)
    cpu.stop()
    for _n in range(requests):
        timed("POST /patients", {202}, "POST", "/patients",
              json={"given_name": "New", "family_name": "Patient", "birth_date": "1991-03-03",
                    "email": f"probe-{uuid.uuid4().hex[:12]}@example.org"},
              headers={"Idempotency-Key": str(uuid.uuid4())})
    return {
        "endpoints": {name: {"p50_ms": round(statistics.median(v), 2),
                             "p95_ms": round(percentile(v, 95), 2), "requests": len(v),
                             "statuses": statuses[name]}
                      for name, v in latencies.items()},
        "cpu_ms_per_booking": cpu.report(requests)["cpu_ms_per_request"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="per endpoint and setting")
    parser.add_argument("--slots", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run")
    parser.add_argument("--api-env", action="append", default=[], metavar="CLINIC_X=VALUE",
                        help="extra setting for the API processes (repeatable)")
    parser.add_argument("--out", type=Path,
                        default=Path("tests/load/results/write_latency.json"))
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.slots = 10, 2_000
    cfg = slo_bench.parse_args(["--smoke", "--slots", str(args.slots), "--patients", "20"])
    results: dict[str, Any] = {}
    with servers() as srv, background_kafka(srv.data_dir.parent / "kafka") as kafka:
        app, _world, bearer, _seeding = slo_bench.seed(srv, cfg)
        app.close()
        slots = [str(s) for s in open_slot_ids(srv.database_url, 2 * args.requests + 50,
                                               sample=True)]
        env = {**slo_bench.API_ENV, "CLINIC_KAFKA_BOOTSTRAP": kafka(),
               **dict(item.split("=", 1) for item in args.api_env)}
        for label, followers in (("followers running", True), ("no followers", False)):
            with api_server(srv, 4, env, projectors=followers) as port, \
                    httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                follow = srv.database_url if followers else None
                measure(client, bearer, slots, min(20, args.requests), port, follow)  # warm-up
                results[label] = measure(client, bearer, slots, args.requests, port, follow)

    rows = [{"followers": label, "endpoint": name, "p50 ms": e["p50_ms"], "p95 ms": e["p95_ms"],
             "requests": e["requests"], "answers": e["statuses"]}
            for label, r in results.items() for name, e in r["endpoints"].items()]
    print("One request at a time (no load, no queue):")
    print_table(rows)
    print("\nCPU ms per booking, by process group (the followers' work on its events included):")
    print_table([{"followers": label, **r["cpu_ms_per_booking"]} for label, r in results.items()])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "config": vars(args) | {
        "out": str(args.out)}, "measured_at": datetime.now(UTC).isoformat()}, indent=2))
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
