"""Server CPU per request, in-process: the app's own cost without sockets or contention.

    .venv/bin/python -m tests.load.command_cpu              # ~2 minutes
    .venv/bin/python -m tests.load.command_cpu --smoke      # seconds

Latency on this shared 2-core machine moves with its neighbours (docs/performance.md); the
CPU one request costs the Python process moves much less. To compare two versions of the
code, run this from each checkout (a `git worktree` of the other commit) minutes apart,
alternating. One process, real PostgreSQL and Redis, the whole ASGI app (middleware,
routing, validation, authentication, rate limits, idempotency records, the use case) called
directly, as uvicorn would call it: GET /slots and the same pages from GET /fhir/R4/Slot
(random start, a service filter half the time), POST /bookings of fresh slots by 50
patients (with an Idempotency-Key) and POST /patients, each `--requests` times a round,
`--rounds` rounds; prints the median of the rounds, CPU ms and wall ms per request. Sync
handlers run in the thread pool as in production; CPU is the whole process's (`time.process_time`).

    .venv/bin/python -m tests.load.command_cpu --audit-followers

runs the audit followers (the event log's Merkle tree and the audit timeline) in a thread of
the same process meanwhile: the CPU the chain adds per request if it shared the API's
process (in production it runs in `clinic project`), and how far it lags (events and
seconds behind the log, sampled every 100 ms; the time to drain after the last request).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from domain.consent import POLICIES, Purpose
from infra.crypto.phi import PhiCipher
from infra.http.app import create_app
from infra.observability.logging import configure_logging
from infra.postgres.read_models import read_model
from infra.postgres.tables import ensure_schema
from infra.settings import Settings
from projections.runner import CatchUpRunner
from tests.driver import seeding_driver
from tests.load.common import follower_positions, servers
from tests.load.slot_search_bench import World

Call = Callable[[str, str, bytes, dict[str, str]], Awaitable[int]]


PATIENTS = 50  # bookings spread over them, as over a clinic's patients


def open_slots(database_url: str, count: int) -> list[tuple[UUID, datetime, datetime]]:
    """`count` random open slots, no two of one provider overlapping: every booking books."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT slot_id, provider_id, start_at, end_at FROM open_slots WHERE status = "
            "'open' AND book_by > now() + interval '1 hour' ORDER BY random() LIMIT %s",
            (count * 4,)).fetchall()
    chosen: list[tuple[UUID, UUID, datetime, datetime]] = []
    for slot, provider, start, end in rows:
        if not any(p == provider and s < end and start < e for _, p, s, e in chosen):
            chosen.append((slot, provider, start, end))
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} non-overlapping open slots; seed more")
    return [(slot, start, end) for slot, _, start, end in chosen[:count]]


def assigned(slots: list[tuple[UUID, datetime, datetime]],
             patients: list[UUID]) -> list[tuple[UUID, UUID]]:
    """(slot, patient) pairs, round robin, no patient booked twice at once (a patient's
    agenda refuses that: decision 0038)."""
    booked: dict[UUID, list[tuple[datetime, datetime]]] = {p: [] for p in patients}
    pairs, turn = [], itertools.cycle(patients)
    for slot, start, end in slots:
        for _ in range(len(patients)):
            patient = next(turn)
            if not any(s < end and start < e for s, e in booked[patient]):
                booked[patient].append((start, end))
                pairs.append((slot, patient))
                break
    return pairs


def asgi_caller(app: Any) -> Call:
    """Call the ASGI app as uvicorn does; the answer's status."""

    async def call(method: str, target: str, body: bytes, headers: dict[str, str]) -> int:
        path, _, query = target.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                 "root_path": "", "query_string": query.encode(),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             *((k.lower().encode(), v.encode()) for k, v in headers.items())],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)  # the client is still there
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and message.get("body"):
                print(message["body"][:500].decode(errors="replace"))

        await app(scope, receive, send)
        return status

    return call


async def per_request(call: Call, make: Callable[[int], tuple[str, str, bytes, dict[str, str]]],
                      count: int, expected: set[int]) -> dict[str, float]:
    """Mean process CPU and wall time of `count` requests, in milliseconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        method, target, body, headers = make(n)
        status = await call(method, target, body, headers)
        if status not in expected:
            raise SystemExit(f"{method} {target} answered {status}")
    return {"cpu_ms": (time.process_time() - cpu) * 1000 / count,
            "wall_ms": (time.perf_counter() - wall) * 1000 / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run")
    parser.add_argument("--audit-followers", action="store_true",
                        help="run the audit_log and audit_timeline followers meanwhile")
    parser.add_argument("--out", type=Path,
                        default=Path("tests/load/results/command_cpu.json"))
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.rounds = 10, 1
    configure_logging("WARNING")  # as the benchmarks run the API

    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        settings = Settings(database_url=srv.database_url, redis_url=srv.redis.url,
                            data_dir=srv.data_dir, rate_limit_scale=100_000,
                            max_upcoming_visits=500)
        seeder = seeding_driver(settings)
        world = World(seeder)
        world.grow_to(2_000 if args.smoke else 20_000)
        assert isinstance(seeder.data_keys, PhiCipher)
        model = read_model("slot_search", srv.database_url, "public", phi=seeder.data_keys)
        CatchUpRunner(seeder, model, batch_size=200).catch_up()
        model.datastore.close()
        patients = []
        for n in range(PATIENTS):
            patient, _ = seeder.register_patient("Bench", f"Booker{n}", date(1985, 1, 1),
                                                 f"booker{n}@example.org", None)
            seeder.verify_patient_email(patient)
            for purpose in (Purpose.treatment, Purpose.telehealth):
                seeder.grant_consent(patient, purpose, POLICIES[purpose].version, "web")
            patients.append(patient)
        seeder.close()
        bookings = assigned(open_slots(srv.database_url, args.requests * args.rounds + 40),
                            patients)
        result = asyncio.run(measure(settings, patients, world.services, bookings, args))

    for endpoint, figures in result["median"].items():
        print(f"{endpoint:15} {figures['cpu_ms']:7.3f} ms CPU  {figures['wall_ms']:7.3f} ms "
              f"wall  (median of {args.rounds} rounds of {args.requests})")
    for key, value in result.get("audit_followers", {}).items():
        print(f"audit followers: {key:28} {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**result, "config": vars(args) | {"out": str(args.out)},
                                    "measured_at": datetime.now(UTC).isoformat()}, indent=2))
    print(f"results written to {args.out}")


async def measure(settings: Settings, patients: list[UUID], services: list[UUID],
                  bookings: list[tuple[UUID, UUID]],
                  args: argparse.Namespace) -> dict[str, Any]:
    app = create_app(settings=settings)
    rnd = random.Random(7)
    run = str(rnd.randrange(10**9))
    async with app.router.lifespan_context(app):
        container = app.state.container
        bearers = {p: {"Authorization": f"Bearer {container.sessions.sign_in(p).access_token}"}
                   for p in patients}
        call = asgi_caller(app)
        free, keys = iter(bookings), itertools.count()

        def search(_: int) -> tuple[str, str, bytes, dict[str, str]]:
            start = datetime.now(UTC) + timedelta(minutes=rnd.randrange(60 * 24 * 60))
            service = f"&service_id={rnd.choice(services)}" if rnd.random() < 0.5 else ""
            return "GET", f"/slots?limit=20&start_from={start:%Y-%m-%dT%H:%M:%SZ}{service}", \
                b"", {}

        def fhir_search(_: int) -> tuple[str, str, bytes, dict[str, str]]:
            start = datetime.now(UTC) + timedelta(minutes=rnd.randrange(60 * 24 * 60))
            service = f"&service-type={rnd.choice(services)}" if rnd.random() < 0.5 else ""
            return "GET", f"/fhir/R4/Slot?_count=20&start=ge{start:%Y-%m-%dT%H:%M:%SZ}" \
                f"{service}", b"", {}

        def booking(n: int) -> tuple[str, str, bytes, dict[str, str]]:
            slot, patient = next(free)
            body = json.dumps({"slot_id": str(slot), "reason": "checkup"}).encode()
            return "POST", "/bookings", body, {**bearers[patient],
                                               "Idempotency-Key": f"{run}-{next(keys)}"}

        def registration(n: int) -> tuple[str, str, bytes, dict[str, str]]:
            body = json.dumps({"given_name": "New", "family_name": "Patient",
                               "birth_date": "1991-03-03",
                               "email": f"new{n}-{rnd.randrange(10**12)}@example.org"}).encode()
            return "POST", "/patients", body, {"Idempotency-Key": f"{run}-{next(keys)}"}

        endpoints = {"GET /slots": (search, {200}), "GET /fhir/R4/Slot": (fhir_search, {200}),
                     "POST /bookings": (booking, {201}),
                     "POST /patients": (registration, {202})}
        for make, expected in endpoints.values():  # warm-up: caches, prepared statements
            await per_request(call, make, 10, expected)
        followers = AuditFollowers(settings) if args.audit_followers else None
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in endpoints}
        for _ in range(args.rounds):
            for name, (make, expected) in endpoints.items():
                rounds[name].append(await per_request(call, make, args.requests, expected))
        lag = followers.stop() if followers else None
    median = {name: {key: round(statistics.median(r[key] for r in runs), 3)
                     for key in ("cpu_ms", "wall_ms")} for name, runs in rounds.items()}
    return {"median": median, "rounds": rounds} | ({"audit_followers": lag} if lag else {})


class AuditFollowers:
    """The audit followers, polling in a thread, and a sampler of how far behind they are."""

    NAMES = ("audit_log", "audit_timeline")

    def __init__(self, settings: Settings) -> None:
        from infra.wiring.followers import build_runner

        self.settings, self.stopping = settings, threading.Event()
        self.runners = [build_runner(name, settings) for name in self.NAMES]
        for runner in self.runners:
            runner.catch_up()
        self.samples: list[tuple[float, int, int]] = []  # (time, head, slowest position)
        self.threads = [threading.Thread(target=self._follow, daemon=True),
                        threading.Thread(target=self._sample, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _follow(self) -> None:
        while not self.stopping.is_set():
            if sum(runner.run_once() for runner in self.runners) == 0:
                self.stopping.wait(0.02)

    def _sample(self) -> None:
        assert self.settings.database_url
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            while not self.stopping.wait(0.1):
                positions = follower_positions(conn, names=self.NAMES)
                slowest = min(positions[name] for name in self.NAMES)
                self.samples.append((time.perf_counter(), positions["head"], slowest))

    def stop(self) -> dict[str, float]:
        """Wait until the followers drained the log, stop them, and the lag figures."""
        assert self.settings.database_url
        started = time.perf_counter()
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            while True:
                positions = follower_positions(conn, names=self.NAMES)
                if min(positions[name] for name in self.NAMES) >= positions["head"]:
                    break
                time.sleep(0.01)
        drained = time.perf_counter() - started
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)
        for runner in self.runners:
            runner.app.close()
        behind = [head - slowest for _, head, slowest in self.samples]
        seconds = [self._age(at, slowest) for at, _, slowest in self.samples]
        return {"samples": len(self.samples), "max_events_behind": max(behind, default=0),
                "p95_events_behind": _p95(behind), "max_seconds_behind": round(max(
                    seconds, default=0.0), 3), "p95_seconds_behind": round(_p95(seconds), 3),
                "drain_after_last_request_s": round(drained, 3)}

    def _age(self, at: float, position: int) -> float:
        """How long ago the first event the followers had not applied was written: the
        first sample whose head passed `position`."""
        for when, head, _ in self.samples:
            if head > position:
                return max(0.0, at - when)
        return 0.0


def _p95(values: list[Any]) -> Any:
    return sorted(values)[int(len(values) * 0.95)] if values else 0


if __name__ == "__main__":
    main()
