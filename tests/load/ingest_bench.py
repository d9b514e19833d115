"""CSV ingestion at scale: a network's directory and schedules for N providers (weekly hours
and dated time off: about 100,000 rows for 2,000 providers), written to disk and ingested
file by file through the use case as `clinic ingest` does — rows per second per kind, the
process's peak memory against the files' size (the reader streams), the time until the
resulting slots are searchable (the slot-search projection caught up), and this machine's
PostgreSQL baseline in the same run.

    .venv/bin/python -m tests.load.ingest_bench                      # 2,000 providers
    .venv/bin/python -m tests.load.ingest_bench --providers 20       # smoke
"""

from __future__ import annotations

import argparse
import csv
import resource
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from commands.context import Actor
from commands.ingest.rows import Kind
from commands.ingest.run import IngestRequest
from infra.ingest.csv_source import csv_rows
from infra.postgres.read_models import slot_search_read_model
from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.load.common import Progress, pgbench_baseline, report, servers

CLINICS_PER_PROVIDERS = 40  # one clinic per this many providers
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
OPERATOR = Actor(subject="bench:ingest", request_id="bench", system=True)


def write_files(folder: Path, providers: int, days_off: int) -> dict[Kind, Path]:
    """The network as CSV files, one per kind: every provider works at one clinic, weekdays
    09:00-17:00 on a 30-minute grid, and takes `days_off` dated days off."""
    clinics = max(1, providers // CLINICS_PER_PROVIDERS)
    rows: dict[Kind, tuple[list[str], Any]] = {
        Kind.clinics: (["external_id", "name", "address_line", "city", "state",
                        "postal_code", "time_zone", "modalities"],
                       ([f"c{n}", f"Clinic {n}", f"{n} Main St", "Springfield", "MA",
                         "02110", ZONES[n % len(ZONES)], "in_person;telehealth"]
                        for n in range(clinics))),
        Kind.services: (["external_id", "name", "duration_minutes", "modality"],
                        iter([["checkup", "Checkup", "30", "in_person"],
                              ["video", "Video visit", "PT30M", "telehealth"],
                              ["long", "Long visit", "60", "in_person"]])),
        Kind.providers: (["external_id", "display_name", "clinics", "services"],
                         ([f"p{n}", f"Dr. {n}", f"c{n % clinics}", "checkup;video;long"]
                          for n in range(providers))),
        Kind.hours: (["provider", "clinic", "monday", "tuesday", "wednesday", "thursday",
                      "friday", "granularity_minutes", "horizon_days"],
                     ([f"p{n}", f"c{n % clinics}", *["09:00-17:00"] * 5, "30", "7"]
                      for n in range(providers))),
        Kind.time_off: (["provider", "clinic", "date", "kind"],
                        ([f"p{n}", f"c{n % clinics}", (date(2027, 1, 1) + timedelta(days=d))
                          .isoformat(), "off"]
                         for n in range(providers) for d in range(days_off))),
    }
    files = {}
    for kind, (header, lines) in rows.items():
        path = folder / f"{kind.value}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(lines)
        files[kind] = path
    return files


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=2000)
    parser.add_argument("--days-off", type=int, default=47,
                        help="dated time-off rows per provider (47: ~100,000 rows in all)")
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/ingest.json"))
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        files = write_files(srv.data_dir.parent, args.providers, args.days_off)
        container = Container.build(Settings(database_url=srv.database_url,
                                             redis_url=srv.redis.url, data_dir=srv.data_dir))
        before_mb, total_rows, total_seconds = _peak_rss_mb(), 0, 0.0
        for kind, path in files.items():
            rows = sum(1 for _ in path.open()) - 1
            progress = Progress(f"ingest {kind.value}", rows, "rows")
            request = IngestRequest(source="bench", kinds=(kind,))
            started = time.perf_counter()
            with path.open("rb") as stream:
                done = container.use_cases.ingestion.run(
                    request, csv_rows(stream, kind), OPERATOR,
                    lambda run, bar=progress: bar.update(run.rows_read))
            seconds = time.perf_counter() - started
            progress.close()
            assert (done.run.rejected, done.run.applied) == (0, rows), done.rejects[:5]
            figures[f"{kind.value}_rows"] = rows
            figures[f"{kind.value}_rows_per_s"] = round(rows / seconds, 1)
            total_rows, total_seconds = total_rows + rows, total_seconds + seconds
        figures |= {
            "rows_total": total_rows, "ingest_seconds": round(total_seconds, 1),
            "rows_per_s": round(total_rows / total_seconds, 1),
            "csv_megabytes": round(sum(p.stat().st_size for p in files.values()) / 2**20, 1),
            "peak_rss_mb_before": round(before_mb), "peak_rss_mb_after": round(_peak_rss_mb()),
            "events": container.app.recorder.max_notification_id()}
        model = slot_search_read_model(srv.database_url, "public")
        started = time.perf_counter()
        CatchUpRunner(container.app, model, batch_size=500).catch_up()
        figures["seconds_until_searchable"] = round(time.perf_counter() - started, 1)
        with container.pool.connection() as conn:
            found = conn.execute("SELECT count(*) FROM open_slots").fetchone()
        figures["open_slots"] = int(found[0]) if found else 0
        model.datastore.close()
        container.close()
        figures |= pgbench_baseline(srv.postgres, args.baseline_seconds)
    report(figures, args)


if __name__ == "__main__":
    main()
