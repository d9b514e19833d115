"""The outbox relay under faults, on real PostgreSQL, Redis and a Kafka broker of its own
(it is stopped and restarted here, so the session's shared broker is not used).

1. A broker outage in the middle of a stream of appointment lifecycles: the API keeps
   accepting bookings, and once the broker is back every published event is on its topic,
   each key's messages in event-store order (repeats aside).
2. `clinic relay` killed with SIGKILL mid-stream, once at an arbitrary point and once in the
   window between the broker's acknowledgment and the position commit: nothing is lost, the
   topic holds repeats, and `clinic notify` still emails nobody twice.

Every wait is bounded and fails with what it was waiting for; nothing asserts on time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi.testclient import TestClient
from psycopg import sql

from commands.ports import SlotInfo
from domain.access import Role
from domain.consent import POLICIES, Purpose
from infra.embedded.kafka import EmbeddedKafka
from infra.mail.sources import Incoming
from infra.messaging import KafkaPublisher
from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.notifier import build_kafka_notifier
from infra.wiring.relay import build_relay
from projections.messages import TOPICS, message_for
from projections.notifications.emails import SIGN_IN_SUBJECT
from projections.relay import Relay
from tests.builders import build_world
from tests.driver import ClinicDriver, drive
from tests.harness.servers import kafka_server
from tests.harness.smtp import SmtpServer, smtp_server

WAIT = 120.0  # the bound on every wait for the system to settle
CONFIRMATION_SUBJECT = "Your visit is booked"


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    """A broker of this module's own: the outage test stops and restarts it (same port)."""
    try:
        with kafka_server() as kafka:
            yield kafka
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def settings(settings: Settings, broker: EmbeddedKafka) -> Settings:
    return settings.model_copy(update={
        "kafka_bootstrap": broker.bootstrap, "kafka_topic_prefix": f"{settings.db_schema}.",
        "notify_group": f"notify-{settings.db_schema}", "notify_backoff_seconds": 0.1,
        "rate_limit_scale": 1000.0})


# --- what the event store says must be on the topics ----------------------------------------
@dataclass(frozen=True)
class Expected:
    notification_id: int
    event_id: str
    originator_id: UUID
    version: int
    name: str
    topic: str  # with the prefix
    key: bytes


def expected_messages(app: ClinicDriver, prefix: str) -> list[Expected]:
    """Every event of the store that publishes a message, in notification (commit) order."""
    found: list[Expected] = []
    start = 1
    while notifications := app.recorder.select_notifications(start=start, limit=500):
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            message = message_for(event, app.repository.get)
            if message is not None:
                found.append(Expected(notification.id, str(message.event_id),
                                      event.originator_id, event.originator_version,
                                      message.name, prefix + message.topic,
                                      str(message.key).encode()))
        start = notifications[-1].id + 1
    return found


# --- what the topics hold ---------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes
    event_id: str
    event_type: str


def _assigned_consumer(bootstrap: str, topics: list[str]
                       ) -> tuple[Consumer, dict[tuple[str, int], int]]:
    """A consumer of every partition from the start, and each partition's high watermark."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    metadata = consumer.list_topics(timeout=30)
    partitions = [TopicPartition(t, p, OFFSET_BEGINNING)
                  for t in topics for p in sorted(metadata.topics[t].partitions)]
    # Before assign(): an assigned consumer's long-polling fetches delay each query.
    highs = {(tp.topic, tp.partition):
             consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                            timeout=30)[1] for tp in partitions}
    consumer.assign(partitions)
    return consumer, highs


def _received(message: Any) -> Received:
    headers = {k: (v or b"").decode() for k, v in message.headers() or []}
    return Received(message.topic(), message.partition(), message.offset(), message.key(),
                    headers.get("event_id", ""), headers.get("event_type", ""))


def read_topics(bootstrap: str, topics: list[str]) -> list[Received]:
    """Everything on the topics now: every partition read up to its high watermark."""
    consumer, highs = _assigned_consumer(bootstrap, topics)
    next_offset = dict.fromkeys(highs, 0)
    received: list[Received] = []
    deadline = time.monotonic() + WAIT
    try:
        while any(next_offset[tp] < high for tp, high in highs.items()):
            if time.monotonic() > deadline:
                behind = {tp: (next_offset[tp], h) for tp, h in highs.items()
                          if next_offset[tp] < h}
                raise AssertionError(f"topics not read to their end within {WAIT}s: {behind}")
            for message in consumer.consume(500, 0.5):
                if message.error():
                    continue
                got = _received(message)
                received.append(got)
                next_offset[(got.topic, got.partition)] = got.offset + 1
    finally:
        consumer.close()
    return received


def check_complete_and_ordered(expected: list[Expected], received: list[Received]) -> int:
    """Every expected message arrived, nothing else did, and each key's messages (first
    occurrences) come in the event store's order, so one appointment's in version order.
    Returns how many messages were repeats."""
    assert expected, "the stream published nothing"
    wanted = {e.event_id for e in expected}
    got = {r.event_id for r in received}
    lost = [e for e in expected if e.event_id not in got]
    assert not lost, (f"{len(lost)} of {len(expected)} published events never reached Kafka, "
                      f"e.g. {[(e.name, e.notification_id) for e in lost[:5]]}")
    strays = got - wanted
    assert not strays, f"{len(strays)} messages on the topics match no event in the store"
    by_id = {e.event_id: e for e in expected}
    for r in received:
        e = by_id[r.event_id]
        assert (r.topic, r.key, r.event_type) == (e.topic, e.key, e.name), (
            f"event {e.notification_id} ({e.name}) published as {r.event_type} on {r.topic}")
    streams: dict[tuple[str, bytes], list[Received]] = defaultdict(list)
    for r in sorted(received, key=lambda r: (r.topic, r.partition, r.offset)):
        streams[(r.topic, r.key)].append(r)
    store_order: dict[tuple[str, bytes], list[str]] = defaultdict(list)
    for e in expected:
        store_order[(e.topic, e.key)].append(e.event_id)
    for stream, messages in streams.items():
        assert len({m.partition for m in messages}) == 1, f"key {stream} spread over partitions"
        first_seen = list(dict.fromkeys(m.event_id for m in messages))
        if first_seen != store_order[stream]:
            versions = [(by_id[i].originator_id, by_id[i].version) for i in first_seen]
            raise AssertionError(f"key {stream[1]!r} on {stream[0]}: messages out of order "
                                 f"(originator, version) {versions}")
    return len(received) - len(got)


# --- small helpers ----------------------------------------------------------------------------
def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT,
               check: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        check()
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def _topics(settings: Settings) -> list[str]:
    return [settings.kafka_topic_prefix + t for t in TOPICS]


def _slot_ids(container: Container, service: UUID) -> dict[tuple[UUID, UUID], list[UUID]]:
    """Open slots of the service that do not overlap one another, per provider and clinic
    (a visit is rescheduled at its own clinic)."""
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT slot_id, provider_id, clinic_id, start_at, end_at FROM open_slots "
            "WHERE service_id = %s AND book_by > now() + interval '2 hours' "
            "ORDER BY provider_id, start_at", (service,)).fetchall()
    chosen: dict[tuple[UUID, UUID], list[UUID]] = defaultdict(list)
    ends: dict[UUID, datetime] = {}
    for slot_id, provider, clinic, start, end in rows:
        if provider not in ends or start >= ends[provider]:
            chosen[provider, clinic].append(slot_id)
            ends[provider] = end
    return chosen


def _patient(app: ClinicDriver, n: int) -> UUID:
    pid, created = app.register_patient("Fault", f"Tester{n}", date(1980, 1, 1),
                                        f"fault{n}@example.org", None)
    assert created
    app.verify_patient_email(pid)
    app.grant_consent(pid, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    return pid


# === 1. broker outage ==========================================================================
class Lifecycles:
    """Book, move, move back, cancel, over HTTP, appointment after appointment, in a thread:
    four published events (versions 1-4) per appointment, calendars changing beside them."""

    def __init__(self, client: TestClient, patients: list[dict[str, str]],
                 pairs: list[tuple[UUID, UUID]]) -> None:
        self.client, self.patients, self.pairs = client, patients, pairs
        self.stopping = threading.Event()
        self.completed: Counter[str] = Counter()  # lifecycles run whole in each phase
        self.total = 0
        self.phase = "before"
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, name="lifecycles", daemon=True)

    def _call(self, path: str, headers: dict[str, str], body: dict[str, Any],
              status: int) -> dict[str, Any]:
        response = self.client.post(path, headers=headers, json=body)
        if response.status_code != status:
            raise AssertionError(f"POST {path} ({self.phase}): {response.status_code} "
                                 f"{response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    def _run(self) -> None:
        n = 0
        try:
            while not self.stopping.is_set():
                headers = self.patients[n % len(self.patients)]
                first, second = self.pairs[n % len(self.pairs)]
                phase = self.phase
                booked = self._call("/bookings", {**headers, "Idempotency-Key": f"life-{n}"},
                                    {"slot_id": str(first), "reason": "follow-up"}, 201)
                path = f"/bookings/{booked['id']}"
                self._call(f"{path}/reschedule", headers, {"slot_id": str(second)}, 200)
                self._call(f"{path}/reschedule", headers, {"slot_id": str(first)}, 200)
                cancelled = self._call(f"{path}/cancel", headers, {"note": "n/a"}, 200)
                assert cancelled["status"] == "cancelled"
                if phase == self.phase:
                    self.completed[phase] += 1
                self.total = n = n + 1
                self.stopping.wait(0.05)  # a steady stream, not a CPU hog on two cores
        except Exception as exc:  # reported by check() in the test's thread
            self.failures.append(f"{type(exc).__name__}: {exc}")

    def check(self) -> None:
        assert not self.failures, f"the API refused work: {self.failures}"


def test_broker_outage_loses_nothing_and_keeps_each_key_in_order(
        settings: Settings, container: Container, client: TestClient, token_for: Any,
        project: Any, broker: EmbeddedKafka, monkeypatch: pytest.MonkeyPatch) -> None:
    app = drive(container)
    world = build_world(app)
    project()
    slots = _slot_ids(container, world.checkup)
    pairs = [(a, b) for ids in slots.values() for a, b in zip(ids[::2], ids[1::2], strict=False)]
    assert len(pairs) >= 20
    patients = [token_for(Role.patient, str(_patient(app, n))) for n in range(8)]

    # The relay as its worker runs it (build_relay: its publisher and whatever wraps it),
    # but with a 3 s delivery timeout instead of 30 s, so that a short outage already takes
    # the failure path (PublishError, a fresh producer, the batch again from its start)
    # rather than only librdkafka's own buffering.
    producers = Counter[str]()

    def short_timeout_producer(client_config: Any, data_dir: Path) -> KafkaPublisher:
        producers["made"] += 1
        return KafkaPublisher(client_config, {"message.timeout.ms": 3000})

    monkeypatch.setattr("infra.wiring.relay.build_publisher", short_timeout_producer)
    runner, resources = build_relay(settings)
    relay = runner.read_model
    assert isinstance(relay, Relay)
    relay_thread = threading.Thread(target=runner.run_forever, name="relay", daemon=True)
    relay_thread.start()
    stream = Lifecycles(client, patients, pairs)
    broker_down = False
    try:
        stream.thread.start()
        wait_until(lambda: stream.completed["before"] >= 3 and relay.published > 0,
                   "the first lifecycles to reach Kafka", check=stream.check)

        stream.phase = "outage"
        broker.stop()
        broker_down = True
        wait_until(lambda: stream.completed["outage"] >= 5 and producers["made"] >= 3,
                   "bookings during the outage and two failed publishes", check=stream.check)
        published_in_outage = relay.published

        stream.phase = "after"
        broker.start()
        broker_down = False
        wait_until(lambda: stream.completed["after"] >= 3
                   and relay.published > published_in_outage,
                   "lifecycles after the restart, and the relay publishing again",
                   check=stream.check)
        stream.stopping.set()
        stream.thread.join(30)
        stream.check()
        wait_until(lambda: relay.position(app.name) == app.recorder.max_notification_id(),
                   "the relay to catch up with the event store")
    finally:
        stream.stopping.set()
        runner.stop()
        relay_thread.join(30)
        for resource in resources:
            resource.close()
        if broker_down:
            broker.start()  # the next test needs it

    expected = expected_messages(app, settings.kafka_topic_prefix)
    received = read_topics(broker.bootstrap, _topics(settings))
    repeats = check_complete_and_ordered(expected, received)

    appointments = [e for e in expected if e.name.startswith("Appointment")]
    versions: dict[UUID, list[int]] = defaultdict(list)
    for e in appointments:
        versions[e.originator_id].append(e.version)
    assert all(v == [1, 2, 3, 4] for v in versions.values())
    assert stream.total == len(versions)
    print(f"\noutage: {len(versions)} appointments ({dict(stream.completed)}), "
          f"{len(expected)} messages expected, {len(received)} on the topics, "
          f"{repeats} repeats, {producers['made'] - 1} failed publishes (fresh producers)")


# === 2. SIGKILL of `clinic relay` ==============================================================
class RelayProcess:
    """`clinic relay` as an operator runs it, against the test's servers."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
            "CLINIC_DATABASE_URL": str(settings.database_url),
            "CLINIC_REDIS_URL": str(settings.redis_url),
            "CLINIC_DB_SCHEMA": settings.db_schema,
            "CLINIC_KAFKA_BOOTSTRAP": str(settings.kafka_bootstrap),
            "CLINIC_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "CLINIC_DATA_DIR": str(settings.data_dir), "CLINIC_LOG_LEVEL": "INFO"}
        self.log_dir = log_dir
        self.started = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.started += 1
        log = (self.log_dir / f"relay-{self.started}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "infra.cli.main", "relay"],
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            log = (self.log_dir / f"relay-{self.started}.log").read_text()[-3000:]
            raise AssertionError(f"clinic relay exited with {self.proc.returncode}: {log}")

    def pause(self) -> None:
        """SIGSTOP, and wait until every thread of the process is stopped."""
        assert self.proc is not None
        self.check()
        self.proc.send_signal(signal.SIGSTOP)
        stat = Path(f"/proc/{self.proc.pid}/stat")
        wait_until(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "T",
                   "clinic relay to stop", timeout=10)
        time.sleep(0.2)  # a query it sent just before runs to its end in PostgreSQL

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        assert self.proc is not None
        self.check()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.proc = None
        return code


class PatientStream:
    """Patients register (a sign-in code is requested), verify, consent and book, one after
    another through the application, in a thread that can be paused between patients."""

    def __init__(self, app: ClinicDriver, slots: list[SlotInfo]) -> None:
        self.app, self.slots = app, slots
        self.gate = threading.Lock()
        self.done = 0
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, name="patients", daemon=True)

    def step(self, n: int) -> None:
        pid = _patient(self.app, n)
        self.app.book(pid, self.slots[n], "sore throat", datetime.now(UTC))

    def _run(self) -> None:
        try:
            for n in range(len(self.slots) - 1):  # the last slot is the test's own
                with self.gate:
                    self.step(n)
                    self.done += 1
                time.sleep(0.03)
        except Exception as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self.gate:
            yield

    def check(self) -> None:
        assert not self.failures, f"the application refused work: {self.failures}"


def _relay_position(settings: Settings) -> int:
    assert settings.database_url
    query = sql.SQL("SELECT max(notification_id) FROM {}.relay_tracking").format(
        sql.Identifier(settings.db_schema))
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row and row[0] is not None else 0


def _waiting_to_record(settings: Settings) -> bool:
    """Whether the relay waits on a lock to write its position."""
    assert settings.database_url
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND query LIKE %s",
                           (f'INSERT INTO "{settings.db_schema}"."relay_tracking"%',)).fetchone()
    return bool(row and row[0])


def test_sigkilled_relay_loses_nothing_and_nobody_is_emailed_twice(
        settings: Settings, container: Container, project: Any, broker: EmbeddedKafka,
        tmp_path: Path) -> None:
    app = drive(container)
    world = build_world(app)
    project()
    ids = [slot for provider in _slot_ids(container, world.checkup).values()
           for slot in provider]
    slots = [s for s in map(container.slots.slot, ids[:41]) if s is not None]
    assert len(slots) == 41
    relay = RelayProcess(settings, tmp_path)
    stream = PatientStream(app, slots)

    def caught_up() -> bool:
        return _relay_position(settings) == app.recorder.max_notification_id()

    def checks() -> None:
        relay.check()
        stream.check()

    relay.start()
    try:
        wait_until(caught_up, "clinic relay to start and publish the clinic set-up",
                   check=relay.check)
        world_position = _relay_position(settings)
        stream.thread.start()

        # Kill 1: wherever the relay happens to be, mid-stream.
        wait_until(lambda: stream.done >= 8 and _relay_position(settings) > world_position,
                   "the relay to follow the first patients", check=checks)
        relay.kill()
        relay.start()

        # Kill 2: in the window after the broker acknowledged a batch and before the relay
        # recorded its position. The test holds a lock on the relay's tracking table, so the
        # relay publishes one patient's events, then waits on the lock, and is killed there.
        # (The relay is stopped while that patient's four saves happen, so that they are one
        # batch: registration, verification, consent and booking.)
        wait_until(lambda: stream.done >= 20, "more patients", check=checks)
        assert settings.database_url
        with stream.paused():
            wait_until(caught_up, "the restarted relay to catch up", check=relay.check)
            with psycopg.connect(settings.database_url) as lock:
                lock.execute(sql.SQL("LOCK TABLE {}.relay_tracking IN SHARE MODE").format(
                    sql.Identifier(settings.db_schema)))
                position = app.recorder.max_notification_id() or 0
                relay.pause()
                stream.step(len(slots) - 1)
                relay.resume()
                window = [e for e in expected_messages(app, settings.kafka_topic_prefix)
                          if e.notification_id > position]
                assert {e.name for e in window} >= {"SignInCodeRequested", "AppointmentBooked"}
                wanted = {e.event_id for e in window}
                consumer, _ = _assigned_consumer(str(settings.kafka_bootstrap),
                                                 _topics(settings))
                seen: set[str] = set()

                def in_the_window() -> bool:
                    seen.update(_received(m).event_id for m in consumer.consume(500, 0.2)
                                if not m.error())
                    return wanted <= seen and _waiting_to_record(settings)

                try:
                    wait_until(in_the_window, "the relay to publish the patient's events and "
                               "wait to record its position", check=relay.check)
                finally:
                    consumer.close()
                assert _relay_position(settings) == position  # acknowledged, not recorded
                relay.kill()
                lock.rollback()
        relay.start()

        stream.thread.join(WAIT)
        stream.check()
        assert not stream.thread.is_alive()
        wait_until(caught_up, "the relay to catch up after the kills", check=relay.check)
        assert relay.terminate() == 0
    finally:
        if relay.proc is not None:
            relay.kill()

    expected = expected_messages(app, settings.kafka_topic_prefix)
    received = read_topics(str(settings.kafka_bootstrap), _topics(settings))
    repeats = check_complete_and_ordered(expected, received)
    copies = Counter(r.event_id for r in received)
    assert all(copies[i] >= 2 for i in wanted), "the killed batch was not published again"

    # The notifier reads it all, repeats included, and emails each patient once per event.
    outcomes, sent = _notify_everything(settings, broker)
    codes = sum(e.name == "SignInCodeRequested" for e in expected)
    bookings = sum(e.name == "AppointmentBooked" for e in expected)
    assert codes == bookings == len(slots)
    by_subject: dict[str, Counter[str]] = defaultdict(Counter)
    for message in sent.messages:
        [to] = message.rcpt_tos
        by_subject[str(message.message["Subject"])][to] += 1
    assert set(by_subject) == {SIGN_IN_SUBJECT, CONFIRMATION_SUBJECT}, set(by_subject)
    for subject, per_recipient in by_subject.items():
        twice = {to: n for to, n in per_recipient.items() if n != 1}
        assert not twice, f"{subject!r} emailed more than once: {twice}"
    assert sum(by_subject[SIGN_IN_SUBJECT].values()) == codes
    assert sum(by_subject[CONFIRMATION_SUBJECT].values()) == bookings
    assert outcomes["duplicate"] >= 2  # the killed batch's code request and booking, again
    assert outcomes["dead-lettered"] == 0
    print(f"\nsigkill: {relay.started} relay starts, {len(expected)} messages expected, "
          f"{len(received)} on the topics, {repeats} repeats; notifier outcomes "
          f"{dict(outcomes)}; {len(sent.messages)} emails")


def _notify_everything(settings: Settings, broker: EmbeddedKafka
                       ) -> tuple[Counter[str], SmtpServer]:
    """Run `clinic notify`'s notifier against a real SMTP server until its consumer group has
    read every partition to the end; count the outcome of each message it took."""
    with smtp_server() as smtp:
        notify_settings = settings.model_copy(update={
            "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_starttls": False})
        notifier, resources = build_kafka_notifier(notify_settings)
        outcomes: Counter[str] = Counter()
        handle = notifier.handle

        def counted(incoming: Incoming) -> str:
            outcome = handle(incoming)
            outcomes[outcome] += 1
            return outcome

        notifier.handle = counted  # type: ignore[method-assign]
        probe, highs = _assigned_consumer(broker.bootstrap, _topics(settings))
        probe.close()
        consumer = notifier.source.consumer  # type: ignore[attr-defined]

        def read_to_the_end() -> bool:
            notifier.run_once(0.2)
            assignment = consumer.assignment()
            if len(assignment) < len(highs):
                return False
            positions = {(tp.topic, tp.partition): tp.offset
                         for tp in consumer.position(assignment)}
            return all(high == 0 or positions[tp] >= high for tp, high in highs.items())

        try:
            wait_until(read_to_the_end, "the notifier to handle every message on the topics")
        finally:
            for resource in resources:
                resource.close()
    return outcomes, smtp
