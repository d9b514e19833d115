"""SLO benchmark (issue "SLOs you can see"): the mixed workload, open-loop, then saturation.

    .venv/bin/python -m tests.load.slo_bench              # full run: 1M slots, 60 s mixed
    .venv/bin/python -m tests.load.slo_bench --smoke      # tiny sizes, well under a minute

`clinic serve --workers N` (projectors, outbox relay and reminder scheduler in its parent
process) on real PostgreSQL, Redis and Kafka. Seeds clinics and providers with open slots
(1,000,000 by default) and a pool of verified, consenting, signed-in patients. Then, after a
warm-up, sends at fixed rates at the same time: GET /slots, POST /holds, POST /bookings
(a share aimed at a few popular times, so some answer 409: a conflict, not an error; a
share completing an earlier hold), POST /patients and POST /bookings/{id}/cancel of earlier
bookings. Latency counts from each request's scheduled send time (no coordinated
omission). Then a saturation staircase of bookings alone. Afterwards: double bookings (read
model and event store), projection lag, pgbench simple-update of the same PostgreSQL.

Prints a table per phase and the SLO targets with PASS/MISS (informational: the exit code
never depends on them); writes a JSON file and a latency plot (PNG) next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import redis
from eventsourcing.utils import get_topic

from domain.appointments import Appointment
from infra.auth.tokens import TokenService
from infra.crypto.phi import PhiCipher
from infra.postgres.read_models import READ_MODELS, read_model
from infra.postgres.tables import ensure_schema
from infra.redis.sessions import PatientSessions
from infra.settings import Settings
from projections.runner import CatchUpRunner
from tests.driver import ClinicDriver, seeding_driver
from tests.load.booking_bench import (
    double_bookings,
    open_slot_ids,
    projection_lag,
    seed_patients,
)
from tests.load.common import (
    FOLLOWERS,
    Progress,
    Servers,
    api_server,
    background_kafka,
    follower_positions,
    pgbench_baseline,
    print_table,
    servers,
    staircase,
    wait_for_followers,
    wait_until_quiet,
)
from tests.load.cpu import CpuMeter, api_parent_pid, api_processes, py_spy
from tests.load.openloop import Result, percentile, post, run_open_loop
from tests.load.slot_search_bench import SLOTS_PER_PROVIDER, World, slot_search_request

HOLD_TTL_S = 300  # CLINIC_HOLD_TTL_SECONDS, left at its default
# 409s that are correct answers (a pooled patient may already have a visit at that time)
CONFLICTS = frozenset({"slot-taken", "slot-held", "patient-has-a-visit-then"})
API_ENV = {
    "CLINIC_RATE_LIMIT_SCALE": "100000",  # every request comes from one address
    # Holds are spread round-robin over the patient pool, which stands in for many more
    # patients: each may hold up to the setting's maximum instead of 3.
    "CLINIC_MAX_HOLDS_PER_CLIENT": "50",
    # ...and books many visits: the per-patient limit is not what this measures.
    "CLINIC_MAX_UPCOMING_VISITS": "500",
}

# Sizes of the full run and of --smoke; any option given on the command line wins.
PROFILES: dict[str, dict[str, Any]] = {
    "full": {"slots": 1_000_000, "clinics": 40, "patients": 1000, "duration": 60.0,
             "warmup": 5.0, "slot_rate": 300.0, "hold_rate": 50.0, "booking_rate": 50.0,
             "registration_rate": 20.0, "cancel_rate": 5.0, "hot_slots": 200,
             "saturation_rates": "50,100,150,200,250,300,400,500", "step_seconds": 10.0,
             "capacity_shares": "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", "capacity_seconds": 20.0,
             "baseline_seconds": 10, "pgbench_scale": 10},
    "smoke": {"slots": 2_000, "clinics": 4, "patients": 20, "duration": 3.0,
              "warmup": 1.0, "slot_rate": 20.0, "hold_rate": 5.0, "booking_rate": 5.0,
              "registration_rate": 3.0, "cancel_rate": 2.0, "hot_slots": 3,
              "saturation_rates": "10,20", "step_seconds": 1.0,
              "capacity_shares": "0.5", "capacity_seconds": 1.0,
              "baseline_seconds": 2, "pgbench_scale": 1},
}

ENDPOINTS = ("GET /slots", "POST /holds", "POST /bookings", "POST /patients",
             "POST /bookings/{id}/cancel")


@dataclass(frozen=True)
class Target:
    label: str
    unit: str
    op: str  # "<" or ">="
    goal: float

    def check(self, measured: float | None) -> str:
        if measured is None or math.isnan(measured):
            return "MISS (no data)"
        met = measured < self.goal if self.op == "<" else measured >= self.goal
        return "PASS" if met else "MISS"


TARGETS = {
    "slots_p95": Target("GET /slots p95", "ms", "<", 15),
    "bookings_p95": Target("POST /bookings p95", "ms", "<", 25),
    "patients_p95": Target("POST /patients p95", "ms", "<", 20),
    "error_rate": Target("error rate, mixed workload", "%", "<", 0.1),
    "projection_lag_p95": Target("projection lag p95 (appointments)", "ms", "<", 500),
    "saturation_ratio": Target("saturation bookings / pgbench TPS (1 client)", "%", ">=", 25),
}
GOALS_MS = {"GET /slots": TARGETS["slots_p95"].goal, "POST /bookings": TARGETS[
    "bookings_p95"].goal, "POST /patients": TARGETS["patients_p95"].goal}  # p95, by endpoint


# ----------------------------------------------------------------------------- outcomes
@dataclass
class Tally:
    """What the answers of one stream were, by kind."""

    ok: int = 0
    conflicts: dict[str, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)  # "404 not-found": n
    server_errors: int = 0
    no_answer: int = 0

    @property
    def answers(self) -> int:
        return (self.ok + sum(self.conflicts.values()) + sum(self.unexpected.values())
                + self.server_errors)

    def count(self, status: int, body: bytes, ok: frozenset[int]) -> None:
        if status == 0:
            self.no_answer += 1
        elif status in ok:
            self.ok += 1
        elif status >= 500:
            self.server_errors += 1
        else:
            code = _problem_code(body)
            if status == 409 and code in CONFLICTS:
                self.conflicts[code] = self.conflicts.get(code, 0) + 1
            else:
                key = f"{status} {code}"
                self.unexpected[key] = self.unexpected.get(key, 0) + 1


def _problem_code(body: bytes) -> str:
    """The `error` (or else the `type`) of a problem document."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "?"
    if not isinstance(doc, dict):
        return "?"
    return str(doc.get("error") or str(doc.get("type", "?")).rsplit(":", 1)[-1])


@dataclass
class Stream:
    """One endpoint's arrivals: a rate, a request maker, and what to learn from answers."""

    name: str
    rate: float
    make: Callable[[int], bytes | None]
    learn: Callable[[int, int, bytes], None]
    ok: frozenset[int]
    tally: Tally = field(default_factory=Tally)

    def on_response(self, i: int, status: int, body: bytes) -> None:
        self.tally.count(status, body, self.ok)
        self.learn(i, status, body)


def _ignore(_i: int, _status: int, _body: bytes) -> None:
    return None


# ----------------------------------------------------------------------------- workload
class Workload:
    """Builds each stream's requests and keeps what later requests need from earlier
    answers: holds to book with, bookings to cancel. Shared by every phase."""

    def __init__(self, world: World, bearer: list[str], fresh: list[UUID], hot: list[UUID],
                 rnd: random.Random, hot_share: float, hold_booking_share: float) -> None:
        self.world, self.bearer, self.rnd = world, bearer, rnd
        self.fresh = fresh  # random open slots, each handed out once (popped)
        self.fallback = list(fresh) or hot
        self.hot = hot  # the soonest few: popular times, contended on purpose
        self.hot_share, self.hold_booking_share = hot_share, hold_booking_share
        self.held: deque[tuple[float, str, str, str, str]] = deque()  # at, slot, id, secret, who
        self.booked: deque[tuple[str, str]] = deque()  # appointment id, bearer
        self.next_holder = 0
        self.phase = 0

    def _fresh_slot(self) -> UUID:
        return self.fresh.pop() if self.fresh else self.rnd.choice(self.fallback)

    def _random_patient(self) -> str:
        return self.rnd.choice(self.bearer)

    def streams(self, rates: dict[str, float], *, saturation: bool = False) -> list[Stream]:
        """Fresh streams (own counters) for one phase; rates by endpoint name, 0 = off."""
        self.phase += 1
        phase, rnd = self.phase, self.rnd
        makers = {
            "GET /slots": (slot_search_request(self.world, rnd), _ignore, frozenset({200})),
            "POST /holds": (*self._holds(), frozenset({201})),
            "POST /bookings": (*self._bookings(saturation), frozenset({201})),
            "POST /patients": (*self._registrations(phase), frozenset({202})),
            "POST /bookings/{id}/cancel": (*self._cancellations(), frozenset({200})),
        }
        return [Stream(name, rates[name], make, learn, ok)
                for name, (make, learn, ok) in makers.items() if rates.get(name, 0) > 0]

    def _holds(self) -> tuple[Callable[[int], bytes | None], Callable[[int, int, bytes], None]]:
        pending: dict[int, tuple[str, str]] = {}

        def make(i: int) -> bytes:
            hot = self.rnd.random() < self.hot_share
            slot = str(self.rnd.choice(self.hot) if hot else self._fresh_slot())
            who = self.bearer[self.next_holder % len(self.bearer)]  # round-robin: few each
            self.next_holder += 1
            pending[i] = (slot, who)
            return post("/holds", json.dumps({"slot_id": slot}).encode(),
                        {"Authorization": who})

        def learn(i: int, status: int, body: bytes) -> None:
            slot, who = pending.pop(i)
            if status == 201:
                hold = json.loads(body)
                self.held.append((time.monotonic(), slot, hold["hold_id"],
                                  hold["hold_secret"], who))
        return make, learn

    def _take_hold(self) -> tuple[str, str, str, str] | None:
        while self.held:
            at, slot, hold_id, secret, who = self.held.popleft()
            if time.monotonic() - at < HOLD_TTL_S - 30:
                return slot, hold_id, secret, who
        return None

    def _bookings(self, saturation: bool) -> tuple[Callable[[int], bytes | None],
                                                   Callable[[int, int, bytes], None]]:
        pending: dict[int, str] = {}

        def make(i: int) -> bytes:
            body: dict[str, str] = {"reason": "Follow-up visit"}  # PHI: sealed, as in life
            draw = self.rnd.random()
            hold = None
            if not saturation and self.hot_share <= draw < self.hot_share + \
                    self.hold_booking_share:
                hold = self._take_hold()
            if hold is not None:  # checkout after a hold: the holder books it
                body["slot_id"], body["hold_id"], body["hold_secret"], who = hold
            else:
                hot = not saturation and draw < self.hot_share
                body["slot_id"] = str(self.rnd.choice(self.hot) if hot else self._fresh_slot())
                who = self._random_patient()
            pending[i] = who
            return post("/bookings", json.dumps(body).encode(),
                        {"Authorization": who, "Idempotency-Key": str(uuid.uuid4())})

        def learn(i: int, status: int, body: bytes) -> None:
            who = pending.pop(i)
            if status == 201:
                self.booked.append((json.loads(body)["id"], who))
        return make, learn

    def _registrations(self, phase: int) -> tuple[Callable[[int], bytes | None],
                                                  Callable[[int, int, bytes], None]]:
        def make(i: int) -> bytes:
            body = {"given_name": "New", "family_name": f"Patient{phase}x{i}",
                    "birth_date": "1991-03-03",
                    "email": f"slo{phase}x{i}-{self.rnd.randrange(10**9)}@example.org"}
            return post("/patients", json.dumps(body).encode(),
                        {"Idempotency-Key": str(uuid.uuid4())})
        return make, _ignore

    def _cancellations(self) -> tuple[Callable[[int], bytes | None],
                                      Callable[[int, int, bytes], None]]:
        def make(_i: int) -> bytes | None:
            if not self.booked:
                return None  # nothing booked yet: skipped, not sent
            appointment, who = self.booked.popleft()
            return post(f"/bookings/{appointment}/cancel", b"{}", {"Authorization": who})
        return make, _ignore


def _connections(rate: float) -> int:
    """Keep-alive connections opened up front: enough to spread over the workers."""
    return max(4, min(32, math.ceil(rate / 5)))


def run_phase(port: int, streams: list[Stream], duration: float, timeout_s: float,
              on_tick: Callable[[float, int], None]) -> list[Result]:
    """Every stream at once, open-loop, for `duration` seconds."""
    async def phase() -> list[Result]:
        started = time.perf_counter()

        async def ticker() -> None:
            while True:
                on_tick(time.perf_counter() - started, sum(s.tally.answers for s in streams))
                await asyncio.sleep(0.25)

        tick = asyncio.create_task(ticker())
        try:
            return list(await asyncio.gather(*(
                run_open_loop("127.0.0.1", port, s.rate, duration, s.make, s.name,
                              initial_connections=_connections(s.rate),
                              on_response=s.on_response, timeout_s=timeout_s)
                for s in streams)))
        finally:
            tick.cancel()
    return asyncio.run(phase())


def endpoint_summary(stream: Stream, result: Result, duration: float) -> dict[str, Any]:
    t = stream.tally
    timeouts = result.error_kinds.get("TimeoutError", 0)
    unexpected = sum(t.unexpected.values())
    errors = t.server_errors + unexpected + result.errors
    done = len(result.latencies_ms)
    return {
        "endpoint": stream.name, "offered_rps": stream.rate, "sent": result.sent,
        "completed": done, "skipped": result.skipped,
        "throughput_rps": round(done / duration, 1),
        "p50_ms": round(result.percentile(50), 2), "p95_ms": round(result.percentile(95), 2),
        "p99_ms": round(result.percentile(99), 2),
        "max_ms": round(max(result.latencies_ms or [0.0]), 2),
        "ok": t.ok, "conflicts": sum(t.conflicts.values()), "conflict_codes": t.conflicts,
        "unexpected_4xx": unexpected, "unexpected": t.unexpected,
        "server_errors": t.server_errors, "timeouts": timeouts,
        "transport_errors": result.errors - timeouts, "errors": errors,
        "error_rate": round(errors / result.sent, 5) if result.sent else 0.0,
        "statuses": dict(sorted(result.statuses.items())),
        "generator_late_p99_ms": round(percentile(result.dispatch_late_ms, 99), 2),
    }


def timeline(result: Result, t0: float) -> list[list[float]]:
    """[second since t0, p95 ms, answers] for each second of scheduled sends."""
    buckets: dict[int, list[float]] = {}
    for sent_at, latency in zip(result.sent_at_s, result.latencies_ms, strict=True):
        buckets.setdefault(int(result.started - t0 + sent_at), []).append(latency)
    return [[s, round(percentile(v, 95), 2), len(v)] for s, v in sorted(buckets.items())]


class FollowerSampler(threading.Thread):
    """Samples how far each follower (projectors, relay) is behind the log's head."""

    def __init__(self, database_url: str, every_s: float = 0.5) -> None:
        super().__init__(name="follower-sampler", daemon=True)
        self.url, self.every_s = database_url, every_s
        self.stopping = threading.Event()
        self.samples: list[tuple[float, dict[str, int]]] = []

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.wait(self.every_s):
                self.samples.append((time.perf_counter(), follower_positions(conn)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)

    def behind(self, t0: float, since: float = -math.inf,
               until: float = math.inf) -> dict[str, Any]:
        window = [(t, p) for t, p in self.samples if since <= t <= until]
        return {
            "max_events_behind": {n: max((p["head"] - p[n] for _, p in window), default=0)
                                  for n in FOLLOWERS},
            "series": [[round(t - t0, 2), {n: p["head"] - p[n] for n in FOLLOWERS}]
                       for t, p in self.samples],
        }


# ----------------------------------------------------------------------------- checks
def event_store_double_bookings(app: ClinicDriver) -> tuple[int, int]:
    """Replays every appointment event from the event store (not the read model): pairs of
    live visits of one provider that overlap, and the number of live visits."""
    topics = [get_topic(cls) for cls in (Appointment.Booked, Appointment.Cancelled,
                                          Appointment.Rescheduled)]
    visits: dict[UUID, tuple[UUID, datetime, datetime]] = {}
    after = 0
    while batch := app.recorder.select_notifications(start=after, limit=1000, topics=topics,
                                                     inclusive_of_start=False):
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            oid = event.originator_id
            if isinstance(event, Appointment.Booked):
                visits[oid] = (event.provider_id, event.start, event.end)
            elif isinstance(event, Appointment.Cancelled):
                visits.pop(oid, None)
            elif isinstance(event, Appointment.Rescheduled) and oid in visits:
                visits[oid] = (visits[oid][0], event.start, event.end)
        after = batch[-1].id
    by_provider: dict[UUID, list[tuple[datetime, datetime]]] = {}
    for provider, start, end in visits.values():
        by_provider.setdefault(provider, []).append((start, end))
    overlaps = 0
    for times in by_provider.values():
        active: list[datetime] = []  # ends of earlier visits
        for start, end in sorted(times):
            active = [e for e in active if e > start]
            overlaps += len(active)
            active.append(end)
    return overlaps, len(visits)


def _live_appointments(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM appointments "
                           "WHERE status IN ('booked', 'checked-in')").fetchone()
    return int(row[0]) if row else -1


# ----------------------------------------------------------------------------- seeding
def _open_slots(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM open_slots WHERE status = 'open'").fetchone()
    return int(row[0]) if row else 0


def seed(srv: Servers, cfg: argparse.Namespace) -> tuple[ClinicDriver, World, list[str],
                                                         dict[str, Any]]:
    times: dict[str, Any] = {}
    ensure_schema(srv.database_url, "public")
    settings = Settings(database_url=srv.database_url, redis_url=srv.redis.url)
    app = seeding_driver(settings)
    world = World(app, clinics=cfg.clinics)

    started = time.perf_counter()
    assert isinstance(app.data_keys, PhiCipher)
    slots_model = read_model("slot_search", srv.database_url, "public", phi=app.data_keys)
    # How many slots one provider's availability cuts (services and hours differ from the
    # nominal SLOTS_PER_PROVIDER): project the first provider, count, then size the rest.
    world.grow_to(1)
    CatchUpRunner(app, slots_model).catch_up()
    per_provider = max(1, _open_slots(srv.database_url))
    providers = max(1, round(cfg.slots / per_provider))
    bar = Progress("clinics & providers", providers)
    for n in range(1, providers + 1):
        world.grow_to(n * SLOTS_PER_PROVIDER)
        bar.update(n)
    bar.close(f"{cfg.clinics} clinics, {providers} providers, ~{per_provider:,} slots each")
    times["directory_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    tokens = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
    # Sessions outlive the run (sign-in to the last request, idle gaps included).
    sessions = PatientSessions(redis.Redis.from_url(srv.redis.url), tokens,
                               idle_seconds=4 * 3600, absolute_seconds=4 * 3600)
    bar = Progress("verified patients", cfg.patients)
    bearer = seed_patients(app, sessions, cfg.patients, bar.update)
    bar.close("registered, verified, consented, signed in")
    times["patients_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    for name in READ_MODELS:
        model = slots_model if name == "slot_search" else \
            read_model(name, srv.database_url, "public", phi=app.data_keys)
        # Small batches for the slots (each availability event cuts ~4k): a lively bar.
        runner = CatchUpRunner(app, model, batch_size=20 if name == "slot_search" else 500)
        head = app.recorder.max_notification_id() or 0
        bar = Progress(f"projecting {name}", head, " events")
        while runner.run_once():
            bar.update(model.position(app.name) or 0)
        bar.close()
        model.datastore.close()
    times["projection_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    with psycopg.connect(srv.database_url, autocommit=True) as conn:
        # Steady state before measuring: fresh statistics, the seeding's pages written out.
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    times["vacuum_s"] = round(time.perf_counter() - started, 1)
    times |= {"open_slots": _open_slots(srv.database_url), "clinics": len(world.clinics),
              "providers": len(world.providers), "patients": len(bearer)}
    return app, world, bearer, times


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    full = PROFILES["full"]
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and rates, seconds long (the test suite runs it)")
    parser.add_argument("--workers", type=int, default=4,
                        help="API worker processes (docs/performance.md compares 2, 3, 4, 6)")
    parser.add_argument("--slots", type=int, help=f"open slots to seed ({full['slots']:,})")
    parser.add_argument("--clinics", type=int, help=f"clinics ({full['clinics']})")
    parser.add_argument("--patients", type=int,
                        help=f"verified, consenting patients with a session ({full['patients']})")
    parser.add_argument("--duration", type=float,
                        help=f"seconds of mixed workload ({full['duration']:.0f})")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up at the mixed rates "
                        f"({full['warmup']:.0f}), not measured")
    for name, what in (("slot", "GET /slots"), ("hold", "POST /holds"),
                       ("booking", "POST /bookings"), ("registration", "POST /patients"),
                       ("cancel", "POST /bookings/{id}/cancel")):
        parser.add_argument(f"--{name}-rate", type=float,
                            help=f"{what} per second ({full[name + '_rate']:.0f})")
    parser.add_argument("--hot-share", type=float, default=0.2,
                        help="share of holds and bookings aimed at popular times (0.2)")
    parser.add_argument("--hot-slots", type=int,
                        help=f"popular times: the soonest open slots ({full['hot_slots']})")
    parser.add_argument("--hold-booking-share", type=float, default=0.3,
                        help="share of bookings that complete an earlier hold (0.3)")
    parser.add_argument("--capacity-shares", help="shares of the mixed rates offered, one "
                        "step each, to find the largest mix served within every latency "
                        f"target ({full['capacity_shares']}; '' skips)")
    parser.add_argument("--capacity-seconds", type=float,
                        help=f"seconds per capacity step ({full['capacity_seconds']:.0f})")
    parser.add_argument("--saturation-rates", help="booking rates of the saturation "
                        f"staircase ({full['saturation_rates']})")
    parser.add_argument("--step-seconds", type=float,
                        help=f"seconds per saturation step ({full['step_seconds']:.0f})")
    parser.add_argument("--saturation-p95-ms", type=float, default=100.0,
                        help="a step is sustained while bookings p95 stays under this (100) "
                        "and errors under 0.1 %%")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds before a request counts as timed out (10)")
    parser.add_argument("--baseline-seconds", type=int, help="seconds per pgbench run (10)")
    parser.add_argument("--pgbench-scale", type=int, help="pgbench scale factor (10)")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--api-env", action="append", default=[], metavar="CLINIC_X=VALUE",
                        help="extra setting for the API processes (repeatable)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy the API parent and workers during the mixed phase "
                             "(collapsed stacks, one file per process, in DIR)")
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/slo.json"),
                        help="JSON result; the plot goes next to it (.png)")
    args = parser.parse_args(argv)
    for key, value in PROFILES["smoke" if args.smoke else "full"].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    run_started = time.perf_counter()
    rates = {"GET /slots": cfg.slot_rate, "POST /holds": cfg.hold_rate,
             "POST /bookings": cfg.booking_rate, "POST /patients": cfg.registration_rate,
             "POST /bookings/{id}/cancel": cfg.cancel_rate}
    print(f"SLO benchmark: {cfg.workers} API workers, {cfg.slots:,} slots, "
          f"{cfg.duration:g} s mixed workload, then bookings up to "
          f"{cfg.saturation_rates.split(',')[-1]}/s", flush=True)
    with servers() as srv, background_kafka(srv.data_dir.parent / "kafka") as kafka:
        app, world, bearer, seeding = seed(srv, cfg)
        seeding["seeding_s"] = round(time.perf_counter() - run_started, 1)
        rnd = random.Random(cfg.seed)
        hot = open_slot_ids(srv.database_url, cfg.hot_slots)
        fresh = open_slot_ids(srv.database_url, min(seeding["open_slots"], 200_000),
                              sample=True)
        work = Workload(world, bearer, fresh, hot, rnd, cfg.hot_share, cfg.hold_booking_share)
        waited = time.perf_counter()
        bootstrap = kafka()
        seeding["kafka_wait_s"] = round(time.perf_counter() - waited, 1)
        sampler = FollowerSampler(srv.database_url)
        env = {**API_ENV, "CLINIC_KAFKA_BOOTSTRAP": bootstrap,
               **dict(item.split("=", 1) for item in cfg.api_env)}
        with api_server(srv, cfg.workers, env, projectors=True) as port:
            # The relay publishes the seeding's events first: start from a steady state.
            seeding["followers_settle_s"] = round(wait_for_followers(srv.database_url, 600), 1)
            sampler.start()

            bar = Progress("warm-up", cfg.warmup, "s")
            warm = {k: v for k, v in rates.items() if k != "POST /bookings/{id}/cancel"}
            run_phase(port, work.streams(warm), cfg.warmup, cfg.timeout,
                      lambda t, n: bar.update(t, f"{n:,} answers"))
            bar.close(done=cfg.warmup)
            # A phase's queue, if it left one, must not count in the next phase. The
            # capacity steps come first: they stop before overload, so the mixed phase still
            # starts from a steady state, and they do not start in the wake of its backlog.
            quiet_before = _quiet(srv.database_url, port)
            capacity = capacity_staircase(port, work, rates, cfg)
            capacity["quiet_before_s"] = quiet_before
            capacity["quiet_after_s"] = _quiet(srv.database_url, port) \
                if capacity["steps"] else None

            mixed_streams = work.streams(rates)
            bar = Progress("mixed workload", cfg.duration, "s")
            cpu = CpuMeter(api_parent_pid(port))
            mixed_from = datetime.now(UTC)
            mixed_t0 = time.perf_counter()
            cpu.start()
            with py_spy(api_processes(port), cfg.duration, cfg.profile):
                results = run_phase(port, mixed_streams, cfg.duration, cfg.timeout,
                                    lambda t, n: bar.update(t, f"{n:,} answers"))
            cpu.stop()
            mixed_t1 = time.perf_counter()
            mixed_until = datetime.now(UTC)
            bar.close(f"{sum(st.tally.answers for st in mixed_streams):,} answers",
                      done=cfg.duration)

            settle_s = _quiet(srv.database_url, port)
            sat_rates = [float(r) for r in cfg.saturation_rates.split(",")]
            bar = Progress("saturation (bookings)", len(sat_rates), " steps")
            sat_from = datetime.now(UTC)
            sat_t0 = time.perf_counter()

            def step(rate: float) -> dict[str, Any]:
                streams = work.streams({"POST /bookings": rate}, saturation=True)
                index = sat_rates.index(rate)
                [result] = run_phase(port, streams, cfg.step_seconds, cfg.timeout,
                                     lambda t, _n: bar.update(index + t / cfg.step_seconds,
                                                              f"{rate:g}/s"))
                summary = endpoint_summary(streams[0], result, cfg.step_seconds)
                return {**summary, "booked_per_s": round(streams[0].tally.ok /
                                                         cfg.step_seconds, 1)}

            steps, best = staircase(
                sat_rates, step, lambda s: s["p95_ms"] <= cfg.saturation_p95_ms
                and s["error_rate"] <= 0.001)
            bar.close(f"highest sustained: {best['offered_rps'] if best else 0:g}/s",
                      done=len(sat_rates))
            sat_t1 = time.perf_counter()

            try:
                drain_s: float | None = wait_for_followers(srv.database_url, 300)
            except RuntimeError as exc:  # a finding, not a reason to lose the figures
                print(f"warning: {exc}", file=sys.stderr)
                drain_s = None
            sampler.stop()

        lag = projection_lag(srv.database_url, mixed_from, mixed_until)
        saturation_lag = projection_lag(srv.database_url, sat_from)
        doubles_rm = double_bookings(srv.database_url)
        print("checking the event store for double bookings...", flush=True)
        doubles_es, live_es = event_store_double_bookings(app)
        live_rm = _live_appointments(srv.database_url)
        app.close()
        print("measuring the PostgreSQL baseline (pgbench simple-update)...", flush=True)
        baseline = pgbench_baseline(srv.postgres, cfg.baseline_seconds, cfg.pgbench_scale)

    endpoints = {s.name: endpoint_summary(s, r, cfg.duration)
                 for s, r in zip(mixed_streams, results, strict=True)}
    sent = sum(e["sent"] for e in endpoints.values())
    errors = sum(e["errors"] for e in endpoints.values())
    total = {"sent": sent, "completed": sum(e["completed"] for e in endpoints.values()),
             "throughput_rps": round(sum(e["throughput_rps"] for e in endpoints.values()), 1),
             "conflicts": sum(e["conflicts"] for e in endpoints.values()), "errors": errors,
             "error_rate": round(errors / sent, 5) if sent else 0.0}
    sustained = best["booked_per_s"] if best else 0.0
    c1, c8 = baseline["pgbench_simple_update_tps_c1"], baseline["pgbench_simple_update_tps_c8"]
    saturation = {"steps": steps, "sustained_booking_rps": sustained,
                  "sustained_offered_rps": best["offered_rps"] if best else 0.0,
                  "criteria": f"p95 <= {cfg.saturation_p95_ms:g} ms and errors <= 0.1 %",
                  "ratio_to_pgbench_c1": round(sustained / c1, 4) if c1 else None,
                  "ratio_to_pgbench_c8": round(sustained / c8, 4) if c8 else None}
    measured = {
        "slots_p95": endpoints.get("GET /slots", {}).get("p95_ms"),
        "bookings_p95": endpoints.get("POST /bookings", {}).get("p95_ms"),
        "patients_p95": endpoints.get("POST /patients", {}).get("p95_ms"),
        "error_rate": total["error_rate"] * 100,
        "projection_lag_p95": lag.get("projection_lag_p95_ms"),
        "saturation_ratio": (saturation["ratio_to_pgbench_c1"] or 0.0) * 100,
    }
    targets = [{"target": t.label, "measured": None if measured[k] is None else
                round(measured[k], 3), "unit": t.unit, "goal": f"{t.op} {t.goal:g} {t.unit}",
                "result": t.check(measured[k])} for k, t in TARGETS.items()]
    followers = sampler.behind(mixed_t0)
    followers |= {"settle_before_s": seeding["followers_settle_s"],
                  "drain_after_s": None if drain_s is None else round(drain_s, 1),
                  "quiet_before_saturation_s": None if settle_s is None else round(settle_s, 1),
                  "max_events_behind_mixed": sampler.behind(mixed_t0, mixed_t0,
                                                            mixed_t1)["max_events_behind"]}
    report: dict[str, Any] = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(cfg).items()},
        "api_env": API_ENV, "seeding": seeding,
        "mixed": {"duration_s": cfg.duration, "endpoints": endpoints, "total": total,
                  "timeline": {s.name: timeline(r, mixed_t0)
                               for s, r in zip(mixed_streams, results, strict=True)}},
        "capacity": capacity, "saturation": saturation,
        "projection_lag": lag, "projection_lag_saturation": saturation_lag,
        "followers": followers,
        "cpu_mixed": cpu.report(total["completed"]),
        "double_bookings": doubles_rm + doubles_es,
        "double_bookings_read_model": doubles_rm, "double_bookings_event_store": doubles_es,
        "live_appointments_read_model": live_rm, "live_appointments_event_store": live_es,
        "baseline": baseline, "targets": targets,
        "phases_s": {"mixed": round(mixed_t1 - mixed_t0, 1),
                     "saturation": round(sat_t1 - sat_t0, 1),
                     "total": round(time.perf_counter() - run_started, 1)},
        "measured_at": datetime.now(UTC).isoformat(),
    }
    _print_report(report)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    png = cfg.out.with_suffix(".png")
    report["plot"] = png.name
    cfg.out.write_text(json.dumps(report, indent=2, default=str))
    plot(report, results, mixed_t0, sat_t0 - mixed_t0, png)
    print(f"results written to {cfg.out} and {png}")


def _quiet(database_url: str, port: int) -> float | None:
    """Seconds until the API answers at once and nothing is being recorded; None (and a
    warning) if that took over 300 s."""
    try:
        return wait_until_quiet(database_url, port, 300)
    except RuntimeError as exc:
        print(f"warning: {exc}", file=sys.stderr)
        return None


def capacity_staircase(port: int, work: Workload, rates: dict[str, float],
                       cfg: argparse.Namespace) -> dict[str, Any]:
    """The mix at rising shares of its rates until a step misses a latency target (p95 of
    every endpoint in GOALS_MS) or has errors: the most this machine serves within the
    SLOs, the figure to read when the full mix is beyond it."""
    shares = [float(x) for x in cfg.capacity_shares.split(",") if x.strip()]
    criteria = ", ".join(f"{name} p95 < {goal:g} ms" for name, goal in GOALS_MS.items())
    if not shares:
        return {"steps": [], "highest_share": None, "highest_offered_rps": None,
                "criteria": criteria}
    bar = Progress("capacity (shares of the mix)", len(shares), " steps")
    positions = itertools.count()

    def step(share: float) -> dict[str, Any]:
        streams = work.streams({name: rate * share for name, rate in rates.items()})
        index = next(positions)
        results = run_phase(port, streams, cfg.capacity_seconds, cfg.timeout,
                            lambda t, _n: bar.update(index + t / cfg.capacity_seconds,
                                                     f"{share:.0%} of the mix"))
        endpoints = {st.name: endpoint_summary(st, r, cfg.capacity_seconds)
                     for st, r in zip(streams, results, strict=True)}
        sent = sum(e["sent"] for e in endpoints.values())
        errors = sum(e["errors"] for e in endpoints.values())
        return {"share": share, "offered_rps": round(sum(rates.values()) * share, 1),
                "throughput_rps": round(sum(e["throughput_rps"] for e in endpoints.values()), 1),
                "p95_ms": {name: endpoints[name]["p95_ms"] for name in GOALS_MS
                           if name in endpoints},
                "error_rate": round(errors / sent, 5) if sent else 0.0,
                "endpoints": endpoints}

    steps, best = staircase(shares, step, lambda st: st["error_rate"] < 0.001 and all(
        st["p95_ms"].get(name, math.inf) < goal for name, goal in GOALS_MS.items()
        if rates.get(name, 0) > 0))
    bar.close(f"highest within the SLOs: {best['share'] if best else 0:.0%}",
              done=len(shares))
    return {"steps": steps, "highest_share": best["share"] if best else 0.0,
            "highest_offered_rps": best["offered_rps"] if best else 0.0,
            "criteria": criteria + ", errors < 0.1 %"}


def _print_report(r: dict[str, Any]) -> None:
    print()
    s = r["seeding"]
    print(f"Seeded {s['open_slots']:,} open slots (clinics: {s['clinics']}, "
          f"providers: {s['providers']}) and {s['patients']:,} patients in "
          f"{s['seeding_s']:.0f} s (directory {s['directory_s']} s, patients "
          f"{s['patients_s']} s, projection {s['projection_s']} s, vacuum {s['vacuum_s']} s)")
    print(f"\nMixed workload, {r['mixed']['duration_s']:g} s open-loop "
          "(latency from the scheduled send time):")
    rows: list[dict[str, object]] = []
    for e in r["mixed"]["endpoints"].values():
        rows.append({"endpoint": e["endpoint"], "offered/s": e["offered_rps"],
                     "achieved/s": e["throughput_rps"], "sent": e["sent"],
                     "done": e["completed"], "p50 ms": e["p50_ms"], "p95 ms": e["p95_ms"],
                     "p99 ms": e["p99_ms"], "max ms": e["max_ms"], "ok": e["ok"],
                     "conflicts": e["conflicts"], "errors": e["errors"],
                     "error %": round(e["error_rate"] * 100, 3),
                     "other answers": _other(e)})
    t = r["mixed"]["total"]
    rows.append({"endpoint": "all", "achieved/s": t["throughput_rps"], "sent": t["sent"],
                 "done": t["completed"], "conflicts": t["conflicts"], "errors": t["errors"],
                 "error %": round(t["error_rate"] * 100, 3)})
    print_table(rows)
    late = max((e["generator_late_p99_ms"] for e in r["mixed"]["endpoints"].values()),
               default=0.0)
    print(f"Load generator: requests dispatched at most {late} ms after their scheduled "
          "time (p99); if that nears the p95s, the generator was starved of CPU.")
    cpu = r["cpu_mixed"]
    print(f"CPU during the mixed phase: {cpu['cores_total']} of {cpu['machine_cores']} cores "
          "busy on average")
    print_table([{"process group": k, "cores": v, "CPU ms per answer": cpu[
                  "cpu_ms_per_request"].get(k, "")} for k, v in cpu["cores"].items() if v])
    cap = r["capacity"]
    if cap["steps"]:
        print(f"\nCapacity within the SLOs: the mix at rising shares ({cap['criteria']}):")
        print_table([{"share": f"{st['share']:.0%}", "offered/s": st["offered_rps"],
                      "achieved/s": st["throughput_rps"],
                      **{f"{name} p95 ms": p95 for name, p95 in st["p95_ms"].items()},
                      "error %": round(st["error_rate"] * 100, 3),
                      "within SLOs": st["sustained"]} for st in cap["steps"]])
        print(f"Largest share of the mix served within every latency target: "
              f"{cap['highest_share']:.0%} ({cap['highest_offered_rps']:g} requests/s)")
    sat = r["saturation"]
    print(f"\nSaturation, bookings alone (sustained: {sat['criteria']}):")
    print_table([{"offered/s": st["offered_rps"], "achieved/s": st["throughput_rps"],
                  "booked/s": st["booked_per_s"], "p50 ms": st["p50_ms"],
                  "p95 ms": st["p95_ms"], "p99 ms": st["p99_ms"], "errors": st["errors"],
                  "conflicts": st["conflicts"], "sustained": st["sustained"]}
                 for st in sat["steps"]])
    b = r["baseline"]
    ratio = sat["ratio_to_pgbench_c1"]
    print(f"Highest sustained booking throughput: {sat['sustained_booking_rps']:g}/s; "
          f"pgbench simple-update {b['pgbench_simple_update_tps_c1']:,.0f} TPS at 1 client, "
          f"{b['pgbench_simple_update_tps_c8']:,.0f} at 8: "
          f"{(ratio or 0) * 100:.1f} % of the 1-client figure")
    lag, f = r["projection_lag"], r["followers"]
    print(f"\nProjection lag (appointments, event time to row written, mixed phase): p50 "
          f"{lag.get('projection_lag_p50_ms', 'n/a')} ms, p95 "
          f"{lag.get('projection_lag_p95_ms', 'n/a')} ms, max "
          f"{lag.get('projection_lag_max_ms', 'n/a')} ms over {lag.get('appointments', 0)} "
          "appointments")
    print(f"Followers at most behind the log head (events, mixed phase): "
          f"{f['max_events_behind_mixed']}; caught up "
          + ("NOT within 300 s" if f["drain_after_s"] is None else
             f"{f['drain_after_s']} s after the load")
          + ("; the API's queue NOT done within 300 s after the mixed phase"
             if f["quiet_before_saturation_s"] is None else
             f"; {f['quiet_before_saturation_s']} s after the mixed phase until the API "
             "answered at once and no event was recorded for 2 s (the saturation "
             "staircase starts then)"))
    print(f"Double bookings: {r['double_bookings_read_model']} in the read model "
          f"({r['live_appointments_read_model']} live visits), "
          f"{r['double_bookings_event_store']} in the event store "
          f"({r['live_appointments_event_store']} live visits)")
    print("\nSLO targets (informational; never the exit code):")
    print_table([{"target": t["target"], "measured": f"{t['measured']} {t['unit']}",
                  "goal": t["goal"], "result": t["result"]} for t in r["targets"]])
    print()


def _other(e: dict[str, Any]) -> str:
    """Every answer that was not the endpoint's success, by kind: `slot-taken: 12, ...`."""
    parts = [f"{code}: {n}" for code, n in e["conflict_codes"].items()]
    parts += [f"{what}: {n}" for what, n in e["unexpected"].items()]
    for key, label in (("server_errors", "5xx"), ("timeouts", "timeout"),
                       ("transport_errors", "transport"), ("skipped", "skipped")):
        if e[key]:
            parts.append(f"{label}: {e[key]}")
    return ", ".join(parts) or "-"


# ----------------------------------------------------------------------------- plot


def plot(report: dict[str, Any], results: list[Result], t0: float, saturation_at: float,
         png: Path) -> None:
    """p95 per second per endpoint, latency CDFs, the saturation staircase, and how far
    the followers were behind: one PNG (Agg backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    sparse = FuncFormatter(lambda value, _pos: f"{value:g}" if f"{value:g}"[0] in "25" else "")

    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    (ax_time, ax_cdf), (ax_sat, ax_lag) = axes
    colors = dict(zip(ENDPOINTS, plt.rcParams["axes.prop_cycle"].by_key()["color"],
                      strict=False))
    for name, series in report["mixed"]["timeline"].items():
        if series:
            xs, ys = [p[0] for p in series], [p[1] for p in series]
            ax_time.plot(xs, ys, marker=".", label=name, color=colors.get(name))
        if name in GOALS_MS:
            ax_time.axhline(GOALS_MS[name], ls="--", lw=0.8, color=colors.get(name))
    ax_time.set(title="Mixed workload: p95 latency per second (dashed: target)",
                xlabel="seconds (scheduled send time)", ylabel="p95 ms", yscale="log")
    ax_time.legend(fontsize=8)

    for result in results:
        data = sorted(result.latencies_ms)
        if data:
            ax_cdf.plot(data, [(i + 1) / len(data) for i in range(len(data))],
                        label=result.name, color=colors.get(result.name))
    ax_cdf.axhline(0.95, ls=":", lw=0.8, color="grey")
    ax_cdf.set(title="Mixed workload: latency CDF", xlabel="latency ms (log)",
               ylabel="share of requests", xscale="log")
    ax_cdf.legend(fontsize=8)

    steps = report["saturation"]["steps"]
    if steps:
        offered = [s["offered_rps"] for s in steps]
        ax_sat.bar([str(int(o)) for o in offered], [s["booked_per_s"] for s in steps],
                   color=["tab:green" if s["sustained"] else "tab:red" for s in steps])
        ax_p95 = ax_sat.twinx()
        ax_p95.plot([str(int(o)) for o in offered], [s["p95_ms"] for s in steps],
                    color="black", marker="o")
        ax_p95.set(ylabel="p95 ms (line, log)", yscale="log")
    ax_sat.set(title="Saturation: bookings booked per s (bars; red: not sustained)",
               xlabel="offered bookings per s", ylabel="booked per s")

    for name in FOLLOWERS:
        series = report["followers"]["series"]
        ax_lag.plot([p[0] for p in series], [p[1][name] for p in series], label=name)
    ax_lag.axvline(0, ls=":", color="grey")
    ax_lag.axvline(saturation_at, ls=":", color="grey")
    ax_lag.set(title="Followers behind the log head (mixed from 0, then saturation)",
               xlabel="seconds", ylabel="events behind")
    ax_lag.legend(fontsize=8)

    for axis in (ax_time.yaxis, ax_cdf.xaxis, *([ax_p95.yaxis] if steps else [])):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(sparse)
    fig.suptitle(f"SLO benchmark {report['measured_at'][:19]}: "
                 f"{report['seeding']['open_slots']:,} open slots, "
                 f"{report['config']['workers']} API workers")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        sys.exit(130)
