"""Outbox relay benchmark: catch-up throughput, and commit-to-topic latency under load.

    .venv/bin/python -m tests.load.relay_bench              # full run (~4 minutes)
    .venv/bin/python -m tests.load.relay_bench --smoke      # seconds, tiny figures

Real PostgreSQL and Redis (tests/load/common.servers) and a real Kafka broker (the test
harness's), all on this machine. Two phases, then the machine's baseline:

1. Catch-up. Patients register, verify and consent, then book distinct slots, through the
   application in this process, until --events events are recorded. Then the relay
   (infra/relay.build_relay: its batch size, one publish and one position commit per batch)
   starts from position zero and is timed until every batch was acknowledged by the broker:
   events/s (every event of the log is read) and messages/s (those that publish one). Every
   topic is read back afterwards: each expected event id must be there.
2. Latency. `clinic serve` takes POST /bookings open-loop at --rate for --duration (distinct
   free slots: 201 expected), while `clinic relay` (FollowerHost with the relay worker, as
   deployed; --relay thread runs it in this process instead) publishes, and a consumer here
   reads the appointments topic. Latency = arrival at the consumer - the message's
   occurred_at header. occurred_at is the event's timestamp, taken when the booking's event is
   created, just before the transaction commits: the figure includes the rest of that save
   (usually a few ms) and the consumer's fetch, so it slightly overstates commit-to-readable.
   Same machine, same wall clock.
3. pgbench simple-update TPS of the same PostgreSQL server, measured last.

Prints the figures and writes them to tests/load/results/relay.json (--out).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import redis
from confluent_kafka import Consumer, TopicPartition

from commands.ports import SlotInfo
from domain.consent import POLICIES, Purpose
from infra.auth.tokens import TokenService
from infra.postgres.read_models import slot_search_read_model
from infra.postgres.tables import ensure_schema
from infra.redis.sessions import PatientSessions
from infra.settings import Settings
from infra.wiring.followers import FollowerHost
from infra.wiring.relay import build_relay
from projections.messages import APPOINTMENTS_TOPIC, TOPICS, message_for
from projections.relay import Relay
from projections.runner import CatchUpRunner
from tests.driver import ClinicDriver, seeding_driver
from tests.harness.servers import kafka_server
from tests.load.common import Servers, api_server, pgbench_baseline, print_table, servers
from tests.load.openloop import percentile, post, run_open_loop
from tests.load.slot_search_bench import World

PREFIX = "bench."
APPROXIMATION = ("latency = arrival at a consumer - occurred_at header (the event's timestamp, "
                 "taken just before the booking's transaction commits): includes the rest of "
                 "that save and the consumer's fetch, so it slightly overstates "
                 "commit-to-readable; one machine, one clock")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000,
                        help="events to record before the catch-up is timed")
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="bookings per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--relay", choices=("process", "thread"), default="process",
                        help="latency phase: `clinic relay` (default) or a FollowerHost "
                        "thread in this process")
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run")
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/relay.json"))
    args = parser.parse_args()
    if args.smoke:
        args.events, args.patients, args.rate, args.duration = 400, 10, 10.0, 2.0
        args.workers, args.baseline_seconds, args.pgbench_scale = 1, 1, 1

    with servers() as srv, kafka_server() as kafka:
        ensure_schema(srv.database_url, "public")
        settings = srv.settings().model_copy(update={
            "kafka_bootstrap": kafka.bootstrap, "kafka_topic_prefix": PREFIX,
            "rate_limit_scale": 100_000.0, "max_upcoming_visits": 500})
        app = seeding_driver(settings)
        world = World(app)
        world.grow_to(2_000 if args.smoke else 40_000)
        model = slot_search_read_model(srv.database_url, "public")
        CatchUpRunner(app, model, batch_size=200).catch_up()
        model.datastore.close()
        slots = _free_slots(srv.database_url)
        tokens = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
        sessions = PatientSessions(redis.Redis.from_url(srv.redis.url), tokens,
                                   idle_seconds=3600, absolute_seconds=3600)
        print(f"{len(slots)} distinct free slots; preparing {args.patients} patients...",
              flush=True)
        patients, bearer = _patients(app, sessions, args.patients)
        catch_up = _catch_up(app, settings, srv, slots, patients, args.events)
        load, latency = _latency(app, settings, srv, slots, bearer, args)
        app.close()
        print("measuring the PostgreSQL baseline (pgbench simple-update)...", flush=True)
        baseline = pgbench_baseline(srv.postgres, args.baseline_seconds, args.pgbench_scale)

    summary = {
        "relay_events_per_s": catch_up["events_per_s"],
        "relay_messages_per_s": catch_up["messages_per_s"],
        "latency_p50_ms": latency["p50_ms"], "latency_p95_ms": latency["p95_ms"],
        "latency_p99_ms": latency["p99_ms"],
        "messages_missing": catch_up["messages_missing"] + latency["messages_missing"],
        "error_rate": load["error_rate"],
        "relay_messages_per_s_to_pgbench_c1": round(
            catch_up["messages_per_s"] / baseline["pgbench_simple_update_tps_c1"], 3)}
    print()
    for row in (catch_up, load, latency):
        print_table([row])
        print()
    print(json.dumps(baseline))
    print(json.dumps(summary))
    print(f"note: {APPROXIMATION}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "catch_up": catch_up, "load": load, "latency": latency, "baseline": baseline,
        "summary": summary, "approximation": APPROXIMATION, "relay_mode": args.relay,
        "measured_at": datetime.now(UTC).isoformat()}, indent=2))
    print(f"results written to {args.out}")


# --- set-up -----------------------------------------------------------------------------------
def _patients(app: ClinicDriver, sessions: PatientSessions,
              count: int) -> tuple[list[UUID], list[str]]:
    """Verified patients with treatment and telehealth consent, and a bearer token each."""
    ids, bearer = [], []
    for n in range(count):
        pid, _ = app.register_patient("Relay", f"Bench{n}", date(1985, 1, 1),
                                      f"relay{n}@example.org", None)
        app.verify_patient_email(pid)
        for purpose in (Purpose.treatment, Purpose.telehealth):
            app.grant_consent(pid, purpose, POLICIES[purpose].version, "web")
        ids.append(pid)
        bearer.append(f"Bearer {sessions.sign_in(pid).access_token}")
    return ids, bearer


def _free_slots(database_url: str) -> list[SlotInfo]:
    """Open slots that overlap no other chosen slot of the same provider: each can be booked
    once without a conflict, in any order."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT slot_id, provider_id, clinic_id, service_id, modality, start_at, end_at, "
            "book_by FROM open_slots WHERE status = 'open' AND book_by > now() + "
            "interval '1 hour' ORDER BY provider_id, start_at").fetchall()
    chosen: list[SlotInfo] = []
    ends: dict[UUID, datetime] = {}
    for row in rows:
        slot = SlotInfo(*row)
        if slot.provider_id not in ends or slot.start >= ends[slot.provider_id]:
            chosen.append(slot)
            ends[slot.provider_id] = slot.end
    # Interleave providers, so that consecutive bookings do not queue on one calendar.
    by_provider: dict[UUID, list[SlotInfo]] = {}
    for slot in chosen:
        by_provider.setdefault(slot.provider_id, []).append(slot)
    mixed = itertools.zip_longest(*by_provider.values())
    return [slot for group in mixed for slot in group if slot is not None]


def _tidy(database_url: str) -> None:
    """Steady state before a measurement: statistics fresh, dirty pages written."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


# --- phase 1: catch-up ------------------------------------------------------------------------
def _catch_up(app: ClinicDriver, settings: Settings, srv: Servers, slots: list[SlotInfo],
              patients: list[UUID], events: int) -> dict[str, Any]:
    recorded = first = app.recorder.max_notification_id() or 0
    print(f"recording events through the application until {events}...", flush=True)
    started, booked = time.perf_counter(), 0
    while recorded < events:
        if not slots:
            raise RuntimeError("out of free slots: grow the world")
        slot = slots.pop()
        app.book(patients[booked % len(patients)], slot, "annual check", datetime.now(UTC))
        booked += 1
        if booked % 1000 == 0:
            recorded = app.recorder.max_notification_id() or 0
            print(f"  {recorded} events ({booked} bookings)", flush=True)
        elif booked % 50 == 0:
            recorded = app.recorder.max_notification_id() or 0
    recording_s = time.perf_counter() - started
    recorded = app.recorder.max_notification_id() or 0
    expected = _expected_event_ids(app)
    _tidy(srv.database_url)

    runner, resources = build_relay(settings)
    relay = runner.read_model
    assert isinstance(relay, Relay)
    print(f"relay catching up on {recorded} events...", flush=True)
    started = time.perf_counter()
    processed = runner.catch_up()
    seconds = time.perf_counter() - started
    published = relay.published
    batch_size, idle_sleep = runner.batch_size, runner.idle_sleep
    for resource in resources:
        resource.close()

    on_topics = _read_event_ids(str(settings.kafka_bootstrap),
                                [PREFIX + t for t in TOPICS])
    distinct = set(on_topics)
    return {"name": "relay catch-up", "events": processed, "messages": published,
            "seconds": round(seconds, 2), "events_per_s": round(processed / seconds, 1),
            "messages_per_s": round(published / seconds, 1), "batch_size": batch_size,
            "idle_sleep_s": idle_sleep, "messages_expected": len(expected),
            "messages_on_topics": len(on_topics),
            "messages_missing": len(expected - distinct),
            "duplicates": len(on_topics) - len(distinct),
            "bookings_recorded": booked,
            "recording_events_per_s": round((recorded - first) / recording_s, 1)}


def _expected_event_ids(app: ClinicDriver, after: int = 0,
                        names: tuple[str, ...] = ()) -> set[str]:
    """Event ids of the store's events (after a notification id) that publish a message."""
    found: set[str] = set()
    start = after + 1
    while notifications := app.recorder.select_notifications(start=start, limit=1000):
        for notification in notifications:
            message = message_for(app.mapper.to_domain_event(notification),
                                  app.repository.get)
            if message is not None and (not names or message.name in names):
                found.add(str(message.event_id))
        start = notifications[-1].id + 1
    return found


def _read_event_ids(bootstrap: str, topics: list[str]) -> list[str]:
    """The event_id header of every message on the topics (every partition, to its end)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{time.time()}",
                         "enable.auto.commit": False})
    metadata = consumer.list_topics(timeout=30)
    partitions = [TopicPartition(t, p, 0) for t in topics
                  for p in sorted(metadata.topics[t].partitions)]
    highs = {(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=30)[1]
             for tp in partitions}  # before assign(): fetches would delay these queries
    consumer.assign(partitions)
    done = {tp: 0 for tp in highs}
    ids: list[str] = []
    deadline = time.monotonic() + 300
    try:
        while any(done[tp] < high for tp, high in highs.items()):
            if time.monotonic() > deadline:
                raise RuntimeError("could not read the topics to their end in 300 s")
            for message in consumer.consume(1000, 0.5):
                if message.error():
                    continue
                ids.append(_header(message, "event_id"))
                done[(str(message.topic()), int(message.partition() or 0))] = (
                    int(message.offset() or 0) + 1)
    finally:
        consumer.close()
    return ids


def _header(message: Any, name: str) -> str:
    for key, value in message.headers() or []:
        if key == name:
            return value.decode() if isinstance(value, bytes) else str(value or "")
    return ""


# --- phase 2: latency under load --------------------------------------------------------------
class Arrivals:
    """A consumer of the appointments topic from its current end: when each event id
    arrived, and the latency from its occurred_at header."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"latency-{time.time()}",
                                  "enable.auto.commit": False})
        metadata = self.consumer.list_topics(timeout=30)
        partitions = [TopicPartition(topic, p) for p in sorted(metadata.topics[topic].partitions)]
        for tp in partitions:
            tp.offset = self.consumer.get_watermark_offsets(tp, timeout=30)[1]
        self.consumer.assign(partitions)
        self.latency_ms: dict[str, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="arrivals", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            message = self.consumer.poll(0.1)  # as soon as one arrives (consume() waits)
            arrived = time.time()
            if message is not None and not message.error():
                occurred = datetime.fromisoformat(_header(message, "occurred_at"))
                self.latency_ms.setdefault(_header(message, "event_id"),
                                           (arrived - occurred.timestamp()) * 1000)

    def start(self) -> Arrivals:
        self.thread.start()
        return self

    def wait_for(self, event_ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not event_ids <= self.latency_ms.keys() and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.consumer.close()


@contextmanager
def _relay_running(srv: Servers, settings: Settings, mode: str) -> Iterator[None]:
    if mode == "thread":
        host = FollowerHost(settings, ("relay",)).start()
        try:
            yield
        finally:
            host.stop()
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": srv.database_url, "CLINIC_REDIS_URL": srv.redis.url,
            "CLINIC_DATA_DIR": str(srv.data_dir), "CLINIC_LOG_LEVEL": "WARNING",
            "CLINIC_KAFKA_BOOTSTRAP": str(settings.kafka_bootstrap),
            "CLINIC_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix}
    proc = subprocess.Popen([sys.executable, "-m", "infra.cli.main", "relay"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def _latency(app: ClinicDriver, settings: Settings, srv: Servers, slots: list[SlotInfo],
             bearer: list[str], args: argparse.Namespace
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    free = iter(slots)
    counter = itertools.count()

    def booking(_: int) -> bytes:
        n = next(counter)
        slot = next(free)
        return post("/bookings", json.dumps({"slot_id": str(slot.slot_id)}).encode(),
                    {"Authorization": bearer[n % len(bearer)],
                     "Idempotency-Key": f"relay-bench-{n}"})

    _tidy(srv.database_url)
    arrivals = Arrivals(str(settings.kafka_bootstrap), PREFIX + APPOINTMENTS_TOPIC).start()
    env = {"CLINIC_RATE_LIMIT_SCALE": "100000", "CLINIC_MAX_UPCOMING_VISITS": "500"}
    try:
        with api_server(srv, args.workers, env) as port, \
                _relay_running(srv, settings, args.relay):
            def run(rate: float, seconds: float, name: str) -> dict[str, Any]:
                result = asyncio.run(run_open_loop("127.0.0.1", port, rate, seconds, booking,
                                                   name))
                return {**result.summary(), "offered_rps": rate}

            before_warm_up = app.recorder.max_notification_id() or 0
            run(min(args.rate, 20.0), 2.0, "warm-up")
            warm_up = _expected_event_ids(app, before_warm_up, ("AppointmentBooked",))
            arrivals.wait_for(warm_up, 60)  # the relay is up and following
            if not warm_up <= arrivals.latency_ms.keys():
                raise RuntimeError("the warm-up bookings never reached the topic: is the "
                                   "relay running?")
            before = app.recorder.max_notification_id() or 0
            print(f"booking at {args.rate}/s for {args.duration}s...", flush=True)
            load = run(args.rate, args.duration, "POST /bookings")
            measured = _expected_event_ids(app, before, ("AppointmentBooked",))
            arrivals.wait_for(measured, 60)
    finally:
        arrivals.stop()
    latencies = [arrivals.latency_ms[i] for i in measured if i in arrivals.latency_ms]
    latency = {"name": "commit -> readable on topic", "messages": len(measured),
               "arrived": len(latencies), "messages_missing": len(measured) - len(latencies),
               "p50_ms": round(percentile(latencies, 50), 2),
               "p95_ms": round(percentile(latencies, 95), 2),
               "p99_ms": round(percentile(latencies, 99), 2),
               "max_ms": round(max(latencies, default=float("nan")), 2),
               "min_ms": round(min(latencies, default=float("nan")), 2),
               "relay": args.relay}
    return load, latency


if __name__ == "__main__":
    main()
