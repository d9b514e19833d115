"""The compliance tools at scale: the audit followers' throughput over real booking events,
timeline pages (a patient's, a busy clinic's, deep pages through the cursor) and the export.

    .venv/bin/python -m tests.load.audit_timeline_bench             # ~5 minutes
    .venv/bin/python -m tests.load.audit_timeline_bench --smoke     # seconds

Seeds a directory (12 clinics, providers with published hours), patients who register,
verify, consent and book (a third of the visits cancelled), through the use cases; then
runs the `audit_log` and `audit_timeline` followers over the whole log (events/s and CPU per
event), times timeline pages in-process (the use case and its SQL, p50/p95/p99), exports the
whole log as jsonl and as FHIR ndjson (events/s, peak memory growth), and measures this
machine's pgbench baseline in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from commands.context import Actor
from commands.timeline import TimelineOf
from domain.access import PurposeOfUse, Role
from domain.consent import POLICIES, Purpose
from infra.crypto.phi import PhiCipher
from infra.postgres.audit_export import export
from infra.postgres.read_models import read_model
from infra.postgres.slot_catalog import PostgresSlotCatalog
from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from infra.wiring.audit import audit_config
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.driver import seeding_driver
from tests.load.command_cpu import assigned, open_slots
from tests.load.common import pgbench_baseline, report, servers
from tests.load.slot_search_bench import World

OFFICER = Actor("bench-officer", Role.compliance, purpose=PurposeOfUse.compliance.value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--visits", type=int, default=3, help="per patient")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path,
                        default=Path("tests/load/results/audit_timeline.json"))
    args = parser.parse_args()
    if args.smoke:
        args.patients, args.visits, args.queries, args.baseline_seconds = 20, 2, 20, 1
    figures: dict[str, Any] = {}
    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        settings = Settings(database_url=srv.database_url, redis_url=srv.redis.url,
                            data_dir=srv.data_dir, max_upcoming_visits=500)
        patients, clinics = _seed(settings, args, figures)
        for name in ("audit_log", "audit_timeline"):
            figures |= _follow(settings, name)
        container = Container.build(settings)
        try:
            figures |= _pages(container, patients, clinics, args.queries)
        finally:
            container.close()
        for fmt in ("jsonl", "fhir"):
            figures |= _export(settings, fmt, srv.data_dir)
        figures |= pgbench_baseline(srv.postgres, args.baseline_seconds)
    report(figures, args)


def _seed(settings: Settings, args: argparse.Namespace,
          figures: dict[str, Any]) -> tuple[list[UUID], list[UUID]]:
    assert settings.database_url
    seeder = seeding_driver(settings)
    world = World(seeder)
    world.grow_to(max(2_000, args.patients * args.visits * 4))
    assert isinstance(seeder.data_keys, PhiCipher)
    model = read_model("slot_search", settings.database_url, "public", phi=seeder.data_keys)
    CatchUpRunner(seeder, model, batch_size=500).catch_up()
    model.datastore.close()
    patients = []
    for n in range(args.patients):
        patient, _ = seeder.register_patient("Audit", f"Bench{n}", date(1980, 1, 1),
                                             f"audit{n}@example.org", None)
        seeder.verify_patient_email(patient)
        for purpose in (Purpose.treatment, Purpose.telehealth):
            seeder.grant_consent(patient, purpose, POLICIES[purpose].version, "web")
        patients.append(patient)
    pairs = assigned(open_slots(settings.database_url, args.patients * args.visits), patients)
    with ConnectionPool(settings.database_url, min_size=1, max_size=2) as pool:
        catalog = PostgresSlotCatalog(pool)
        for n, (slot_id, patient) in enumerate(pairs):
            slot = catalog.slot(slot_id)
            assert slot is not None
            visit = seeder.book(patient, slot, "bench", datetime.now(UTC)).id
            if n % 3 == 0:
                seeder.cancel(visit, datetime.now(UTC))
    figures["events"] = seeder.recorder.max_notification_id()
    figures["bookings"] = len(pairs)
    seeder.close()
    return patients, world.clinics


def _follow(settings: Settings, name: str) -> dict[str, Any]:
    from infra.wiring.followers import build_runner

    runner = build_runner(name, settings, batch_size=500)
    if name == "audit_log":
        assert settings.database_url
        runner.read_model = read_model(name, settings.database_url, "public",
                                       audit=audit_config(settings))
    cpu, wall = time.process_time(), time.perf_counter()
    applied = runner.catch_up()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    runner.app.close()
    return {f"{name}_events_per_s": round(applied / wall),
            f"{name}_cpu_us_per_event": round(cpu / applied * 1e6, 1)}


def _pages(container: Container, patients: list[UUID], clinics: list[UUID],
           queries: int) -> dict[str, Any]:
    timeline = container.use_cases.timeline
    rnd = random.Random(7)
    figures: dict[str, Any] = {}
    patient_ms, sizes = [], []
    for _ in range(queries):
        started = time.perf_counter()
        page = timeline.page(TimelineOf.patient, str(rnd.choice(patients)), OFFICER, limit=100)
        patient_ms.append((time.perf_counter() - started) * 1000)
        sizes.append(len(page.items))
    figures |= _percentiles("timeline_patient_page_ms", patient_ms)
    figures["timeline_patient_items_median"] = statistics.median(sizes)
    clinic_ms, cursor, pages = [], None, 0
    while pages < 50:
        started = time.perf_counter()
        got = timeline.page(TimelineOf.clinic, str(clinics[0]), OFFICER, cursor=cursor,
                            limit=100)
        clinic_ms.append((time.perf_counter() - started) * 1000)
        pages += 1
        if got.next_cursor is None:
            break
        cursor = got.next_cursor
    figures |= _percentiles("timeline_clinic_page_ms", clinic_ms)
    figures["timeline_clinic_pages_walked"] = pages
    shown = []
    for _ in range(max(10, queries // 10)):
        started = time.perf_counter()
        timeline.page(TimelineOf.patient, str(rnd.choice(patients)), OFFICER, limit=100,
                      show_phi_for=PurposeOfUse.legal)
        shown.append((time.perf_counter() - started) * 1000)
    return figures | _percentiles("timeline_patient_page_with_phi_ms", shown)


def _export(settings: Settings, fmt: str, folder: Path) -> dict[str, Any]:
    assert settings.database_url
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    done = export(settings.database_url, "public", datetime(2000, 1, 1, tzinfo=UTC),
                  datetime.now(UTC), fmt, folder / f"export.{fmt}", site="bench")
    elapsed = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return {f"export_{fmt}_events_per_s": round(done.changes / elapsed),
            f"export_{fmt}_peak_rss_mb_growth": round(grown, 1),
            f"export_{fmt}_proof_hashes": len(json.loads(done.proof.read_text())["hashes"])
            if done.proof else 0}


def _percentiles(name: str, values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)

    return {f"{name}_p50": at(0.5), f"{name}_p95": at(0.95), f"{name}_p99": at(0.99)}


if __name__ == "__main__":
    main()
