"""$bulk-publish at scale: the Slot ndjson file of a large catalogue, streamed from
`clinic serve` (time to the last byte, bytes, the API process's memory before and after).

    .venv/bin/python -m tests.load.bulk_publish_bench                  # 1,000,000 slots
    .venv/bin/python -m tests.load.bulk_publish_bench --slots 20000    # smoke
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx
import psutil

from infra.postgres.read_models import slot_search_read_model
from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from projections.runner import CatchUpRunner
from tests.driver import seeding_driver
from tests.load.common import api_server, pgbench_baseline, report, servers
from tests.load.slot_search_bench import World


def _api_rss_mb(port: int) -> float:
    """Resident memory of every process serving the port (the workers and their parent)."""
    total = 0
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if "serve" in cmdline and f"--port {port}" in cmdline:
            family = [proc, *proc.children(recursive=True)]
            total += sum(p.memory_info().rss for p in family)
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=1_000_000)
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path,
                        default=Path("tests/load/results/bulk_publish.json"))
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        app = seeding_driver(Settings(database_url=srv.database_url, redis_url=srv.redis.url))
        model = slot_search_read_model(srv.database_url, "public")
        World(app).grow_to(args.slots)
        CatchUpRunner(app, model, batch_size=100).catch_up()
        app.close()
        model.datastore.close()
        with api_server(srv, 2) as port:
            base = f"http://127.0.0.1:{port}/fhir/R4/$bulk-publish"
            httpx.get(base, timeout=30)
            before = _api_rss_mb(port)
            started, size, lines = time.perf_counter(), 0, 0
            with httpx.stream("GET", f"{base}/Slot.ndjson", timeout=600) as answer:
                assert answer.status_code == 200, answer.status_code
                for chunk in answer.iter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            elapsed = time.perf_counter() - started
            figures |= {"slots_published": lines, "seconds": round(elapsed, 1),
                        "slots_per_s": round(lines / elapsed), "megabytes": round(size / 2**20),
                        "api_rss_mb_before": round(before), "api_rss_mb_after":
                        round(_api_rss_mb(port))}
        figures |= pgbench_baseline(srv.postgres, args.baseline_seconds)
    report(figures, args)


if __name__ == "__main__":
    main()
