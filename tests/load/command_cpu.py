"""CPU per command, in-process: the write side's own cost, without HTTP or contention.

    .venv/bin/python -m tests.load.command_cpu              # ~1 minute
    .venv/bin/python -m tests.load.command_cpu --smoke      # seconds

Latency on this shared 2-core machine moves with its neighbours (docs/performance.md); the
CPU one command costs the Python process moves much less. To compare two versions of the
write path, run this from each checkout (a `git worktree` of the other commit) minutes
apart. One thread, real PostgreSQL and Redis: books `--bookings` fresh slots (patient,
consents and calendars read, appointment and calendar saved) and registers `--patients` new
patients (claim read, data key created, events saved), `--rounds` times, and prints the
median of the rounds: Python CPU ms and wall ms per command.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from commands.ports import SlotInfo
from domain.consent import POLICIES, Purpose
from infra.application import build_application
from infra.crypto.phi import PhiCipher
from infra.eventstore import ensure_schema
from infra.readmodels.build import read_model
from infra.settings import Settings
from projections.runner import CatchUpRunner
from tests.load.common import servers
from tests.load.slot_search_bench import World


def open_slots(database_url: str, count: int) -> list[SlotInfo]:
    """`count` random open slots, no two of one provider overlapping: every booking books."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT slot_id, provider_id, clinic_id, service_id, modality, start_at, end_at, "
            "book_by FROM open_slots WHERE status = 'open' AND book_by > now() + "
            "interval '1 hour' ORDER BY random() LIMIT %s", (count * 4,)).fetchall()
    chosen: list[SlotInfo] = []
    for slot in (SlotInfo(*row) for row in rows):
        if not any(c.provider_id == slot.provider_id and c.start < slot.end and
                   slot.start < c.end for c in chosen):
            chosen.append(slot)
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} non-overlapping open slots; seed more")
    return chosen[:count]


def per_command(run: Callable[[int], object], count: int) -> dict[str, float]:
    """Mean Python CPU and wall time of `count` calls, in milliseconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        run(n)
    return {"cpu_ms": (time.process_time() - cpu) * 1000 / count,
            "wall_ms": (time.perf_counter() - wall) * 1000 / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=500)
    parser.add_argument("--patients", type=int, default=300, help="registrations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run")
    parser.add_argument("--out", type=Path,
                        default=Path("tests/load/results/command_cpu.json"))
    args = parser.parse_args()
    if args.smoke:
        args.bookings, args.patients, args.rounds = 20, 10, 1

    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        app = build_application(Settings(database_url=srv.database_url,
                                         redis_url=srv.redis.url))
        World(app).grow_to(2_000 if args.smoke else 20_000)
        assert isinstance(app.data_keys, PhiCipher)
        model = read_model("slot_search", srv.database_url, "public", phi=app.data_keys)
        CatchUpRunner(app, model, batch_size=200).catch_up()
        model.datastore.close()
        slots = open_slots(srv.database_url, args.bookings * args.rounds)
        patients = []
        for n in range(args.rounds):
            pid, _ = app.register_patient("Bench", f"Booker{n}", date(1985, 1, 1),
                                          f"booker{n}@example.org", None)
            app.verify_patient_email(pid)
            for purpose in (Purpose.treatment, Purpose.telehealth):
                app.grant_consent(pid, purpose, POLICIES[purpose].version, "web")
            patients.append(pid)

        rounds: dict[str, list[dict[str, float]]] = {"book": [], "register": []}
        for r in range(args.rounds):
            mine = slots[r * args.bookings:(r + 1) * args.bookings]
            rounds["book"].append(per_command(
                lambda n, mine=mine, r=r: app.book(patients[r], mine[n], "checkup",
                                                   datetime.now(UTC)), len(mine)))
            rounds["register"].append(per_command(
                lambda n, r=r: app.register_patient(
                    "New", f"Patient{n}", date(1990, 2, 3), f"new{r}-{n}@example.org", None),
                args.patients))
        app.close()

    result = {command: {key: round(statistics.median(run[key] for run in runs), 3)
                        for key in ("cpu_ms", "wall_ms")} for command, runs in rounds.items()}
    for command, figures in result.items():
        print(f"{command:9} {figures['cpu_ms']:7.3f} ms CPU  {figures['wall_ms']:7.3f} ms wall"
              f"  (median of {args.rounds} rounds)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"median": result, "rounds": rounds,
                                    "config": vars(args) | {"out": str(args.out)},
                                    "measured_at": datetime.now(UTC).isoformat()}, indent=2))
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
