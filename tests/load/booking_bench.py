"""Booking and registration benchmark: POST /bookings and POST /patients, open-loop.

    .venv/bin/python -m tests.load.booking_bench              # full run (~4 minutes)
    .venv/bin/python -m tests.load.booking_bench --smoke      # seconds, tiny figures

`clinic serve --workers 2` runs with its projectors (read models stay live, as in
production) on real PostgreSQL and Redis. Phases: bookings at a fixed rate with contention
(random slots among the soonest few thousand, so some requests race for the same time),
registrations at a fixed rate, then a saturation staircase of booking rates. Prints
p50/p95/p99, throughput, error rate (5xx and transport errors; 409 is a correct answer),
double bookings found (must be 0), projection lag, and pgbench simple-update TPS of the same
server, last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import redis

from domain.consent import POLICIES, Purpose
from infra.auth.tokens import TokenService
from infra.crypto.phi import PhiCipher
from infra.postgres.read_models import READ_MODELS, read_model
from infra.postgres.tables import ensure_schema
from infra.redis.sessions import PatientSessions
from infra.settings import Settings
from projections.runner import CatchUpRunner
from tests.driver import ClinicDriver, seeding_driver
from tests.load.common import api_server, pgbench_baseline, print_table, servers, staircase
from tests.load.openloop import post, run_open_loop
from tests.load.slot_search_bench import World


def seed_patients(app: ClinicDriver, sessions: PatientSessions, count: int,
                  progress: Callable[[int], None] | None = None) -> list[str]:
    """`count` verified patients with treatment and telehealth consent, each signed in:
    their bearer headers."""
    bearer = []
    for n in range(count):
        pid, _ = app.register_patient("Bench", f"Patient{n}", date(1985, 1, 1),
                                      f"bench{n}@example.org", None)
        app.verify_patient_email(pid)
        for purpose in (Purpose.treatment, Purpose.telehealth):
            app.grant_consent(pid, purpose, POLICIES[purpose].version, "web")
        bearer.append(f"Bearer {sessions.sign_in(pid).access_token}")
        if progress is not None:
            progress(n + 1)
    return bearer


def open_slot_ids(database_url: str, limit: int, *, sample: bool = False) -> list[UUID]:
    """Open slots bookable for at least another hour: the soonest `limit`, or with
    `sample` a random `limit` of them."""
    order = "random()" if sample else "start_at"
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT slot_id FROM open_slots WHERE status = 'open' "
                            "AND book_by > now() + interval '1 hour' "
                            f"ORDER BY {order} LIMIT %s", (limit,)).fetchall()
    return [r[0] for r in rows]


def double_bookings(database_url: str) -> int:
    """Pairs of live appointments of one provider that overlap, in the read model."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("""SELECT count(*) FROM appointments a JOIN appointments b
            ON a.provider_id = b.provider_id AND a.appointment_id < b.appointment_id
            AND a.start_at < b.end_at AND b.start_at < a.end_at
            WHERE a.status IN ('booked', 'checked-in') AND b.status IN ('booked', 'checked-in')
            """).fetchone()
    return int(row[0]) if row else -1


def projection_lag(database_url: str, since: datetime,
                   until: datetime | None = None) -> dict[str, float]:
    """Appointments read model: booking event time to row written, for visits booked in
    [since, until)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("""SELECT
            percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
            percentile_cont(0.95) WITHIN GROUP (ORDER BY lag), max(lag), count(*)
            FROM (SELECT extract(epoch FROM projected_at - booked_at) * 1000 AS lag
                  FROM appointments WHERE booked_at >= %s
                  AND booked_at < coalesce(%s, 'infinity'::timestamptz)) t""",
                           (since, until)).fetchone()
    if not row or row[3] == 0:
        return {}
    return {"projection_lag_p50_ms": round(float(row[0]), 1),
            "projection_lag_p95_ms": round(float(row[1]), 1),
            "projection_lag_max_ms": round(float(row[2]), 1), "appointments": int(row[3])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--booking-rate", type=float, default=100.0)
    parser.add_argument("--registration-rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--staircase", default="100,150,200,250,300")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--patients", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run")
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/booking.json"))
    args = parser.parse_args()
    if args.smoke:
        args.booking_rate, args.registration_rate, args.duration = 20.0, 10.0, 1.0
        args.staircase, args.step_seconds, args.patients = "20", 1.0, 10

    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        settings = Settings(database_url=srv.database_url, redis_url=srv.redis.url)
        app = seeding_driver(settings)
        world = World(app)
        world.grow_to(2_000 if args.smoke else 150_000)
        assert isinstance(app.data_keys, PhiCipher)
        for name in READ_MODELS:
            model = read_model(name, srv.database_url, "public", phi=app.data_keys)
            CatchUpRunner(app, model, batch_size=200).catch_up()
            model.datastore.close()
        tokens = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
        sessions = PatientSessions(redis.Redis.from_url(srv.redis.url), tokens,
                                   idle_seconds=3600, absolute_seconds=3600)
        print(f"preparing {args.patients} verified patients...", flush=True)
        bearer = seed_patients(app, sessions, args.patients)
        slots = open_slot_ids(srv.database_url, 40_000)
        rnd = random.Random(7)
        hot = slots[: max(50, len(slots) // 20)]  # popular times: contention

        def booking(i: int) -> bytes:
            slot = rnd.choice(hot) if rnd.random() < 0.3 else rnd.choice(slots)
            body = json.dumps({"slot_id": str(slot)}).encode()
            return post("/bookings", body, {"Authorization": rnd.choice(bearer),
                                            "Idempotency-Key": f"b-{i}-{rnd.random()}"})

        def registration(i: int) -> bytes:
            body = json.dumps({"given_name": "New", "family_name": f"Patient{i}",
                               "birth_date": "1991-03-03",
                               "email": f"new{i}-{rnd.randrange(10**9)}@example.org"}).encode()
            return post("/patients", body)

        rows: list[dict[str, Any]] = []
        started = datetime.now(UTC)
        env = {"CLINIC_RATE_LIMIT_SCALE": "100000",  # a pool of patients books for many
               "CLINIC_MAX_UPCOMING_VISITS": "500"}
        with api_server(srv, args.workers, env, projectors=True) as port:
            def run(rate: float, seconds: float, make: Any, name: str) -> dict[str, Any]:
                result = asyncio.run(run_open_loop("127.0.0.1", port, rate, seconds, make,
                                                   name))
                return {**result.summary(), "offered_rps": rate}

            run(20, 2, booking, "warm-up")
            rows.append(run(args.booking_rate, args.duration, booking, "POST /bookings"))
            rows.append(run(args.registration_rate, args.duration, registration,
                            "POST /patients"))
            steps, _ = staircase(
                [float(r) for r in args.staircase.split(",")],
                lambda rate: run(rate, args.step_seconds, booking, f"POST /bookings @{rate:.0f}"),
                lambda step: step["p95_ms"] <= 100)
            rows.extend(steps)
            time.sleep(2)  # let the projectors finish
        sustained = max((s["throughput_rps"] for s in steps if s["sustained"]), default=0.0)
        lag = projection_lag(srv.database_url, started)
        doubles = double_bookings(srv.database_url)
        app.close()
        print("measuring the PostgreSQL baseline (pgbench simple-update)...", flush=True)
        baseline = pgbench_baseline(srv.postgres, 2 if args.smoke else 10,
                                    1 if args.smoke else 10)
    ratio = sustained / baseline["pgbench_simple_update_tps_c1"]
    summary = {"sustained_booking_rps_p95_under_100ms": sustained,
               "ratio_to_pgbench_c1": round(ratio, 3),
               "ratio_to_pgbench_c8": round(sustained /
                                            baseline["pgbench_simple_update_tps_c8"], 3),
               "double_bookings": doubles, **lag}
    print()
    print_table(rows)
    print(json.dumps(baseline))
    print(json.dumps(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": rows, "baseline": baseline, "summary": summary,
                                    "measured_at": datetime.now(UTC).isoformat()}, indent=2))
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
