"""The write ceiling of one PostgreSQL primary for this event store: every write of the one
application takes the event table's lock until commit (insert order = commit order for the
notification log), so writers serialize whatever they write. N writer processes save small
aggregates as fast as they can — one per transaction, and four per transaction (a booking
saves its appointment, one or two calendars and the patient's agenda together) — and we
print commits/s, events/s and commit latency p50/p95/p99 per writer count, beside this
machine's pgbench baseline in the same run (docs/deployment.md, "Sizing and limits").

    .venv/bin/python -m tests.load.event_store_ceiling                 # ~2 minutes
    .venv/bin/python -m tests.load.event_store_ceiling --seconds 2 --writers 1 2   # smoke
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any

from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from tests.load.common import pgbench_baseline, print_table, report, servers


def _writer(settings: Settings, per_commit: int, seconds: float,
            start: Any, out: Any) -> None:
    """Save `per_commit` new clinics per transaction until the time is up; report each
    commit's latency (and failures: a lost optimistic-concurrency race cannot happen here,
    every aggregate is new)."""
    from domain.clinics import Address, Clinic
    from domain.modality import Modality
    from infra.wiring.container import Container

    latencies: list[float] = []
    errors = 0
    try:
        container = Container.build(settings)
        address = Address("1 Main St", "Springfield", "MA", "02110")
        start.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            clinics = [Clinic.register("Ceiling", address, "America/New_York",
                                       [Modality.in_person]) for _ in range(per_commit)]
            began = time.perf_counter()
            try:
                container.app.save(*clinics)
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - began)
        container.close()
    finally:
        out.put((latencies, errors))


def _step(settings: Settings, writers: int, per_commit: int,
          seconds: float) -> dict[str, object]:
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(settings, per_commit, seconds, start, out))
             for _ in range(writers)]
    for proc in procs:
        proc.start()
    time.sleep(8)  # each writer builds its container before the clock starts
    start.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    commits = len(latencies)

    def pct(q: float) -> float:
        if not latencies:
            return 0.0
        return float(round(1000 * latencies[min(len(latencies) - 1,
                                                int(q * len(latencies)))], 2))

    return {"writers": writers, "aggregates_per_commit": per_commit,
            "commits_per_s": round(commits / seconds, 1),
            "events_per_s": round(commits * per_commit / seconds, 1),
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(1000 * statistics.fmean(latencies), 2) if latencies else 0.0,
            "error_rate": round(errors / max(1, commits + errors), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path,
                        default=Path("tests/load/results/event_store_ceiling.json"))
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    figures: dict[str, object] = {}
    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        settings = srv.settings()
        for per_commit in (1, 4):
            for writers in args.writers:
                rows.append(_step(settings, writers, per_commit, args.seconds))
        figures |= pgbench_baseline(srv.postgres, args.baseline_seconds)
    print_table(rows)
    for row in rows:
        key = f"w{row['writers']}_x{row['aggregates_per_commit']}"
        figures |= {f"{key}_{name}": value for name, value in row.items()
                    if name not in ("writers", "aggregates_per_commit")}
    report(figures, args)


if __name__ == "__main__":
    main()
