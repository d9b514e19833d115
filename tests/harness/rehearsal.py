"""The scale-out rehearsal (issue 24, item 5): every role as two OS processes against separate
PostgreSQL, Redis and a three-node Kafka cluster; a bounded booking load over both API
processes while one process of each kind (and one broker) is SIGKILLed, one at a time; then
the invariants. The short form (tests/integration/test_scale_out_rehearsal.py) and the long
form (tests/load/rehearsal_bench.py) run this with different sizes."""

from __future__ import annotations

import json
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import redis
from psycopg import sql

from infra.auth.tokens import TokenService
from infra.crypto.phi import PhiCipher
from infra.postgres.appointments import reason_context
from infra.postgres.read_models import READ_MODELS, read_model
from infra.redis.sessions import PatientSessions
from infra.settings import Settings
from infra.wiring.followers import PROJECTORS
from projections.messages import TOPICS
from projections.notifications.emails import SIGN_IN_SUBJECT
from tests.driver import ClinicDriver, seeding_driver
from tests.harness.kafka_cluster import KafkaCluster
from tests.harness.roles import CLINIC, Role, api_role, migrate, role_environment, wait_ready
from tests.harness.smtp import SmtpServer
from tests.integration.test_relay_faults import (
    check_complete_and_ordered,
    expected_messages,
    read_topics,
)
from tests.load.booking_bench import double_bookings, seed_patients
from tests.load.common import Servers, follower_positions
from tests.load.slot_search_bench import SLOTS_PER_PROVIDER, World

CONFIRMATION_SUBJECT = "Your visit is booked"
EMAILED = {"SignInCodeRequested": SIGN_IN_SUBJECT, "AppointmentBooked": CONFIRMATION_SUBJECT}
# Columns a projector fills from its own clock: a rebuild writes them anew.
WRITTEN_AT = {"projected_at", "updated_at", "recorded_at", "created_at"}


@dataclass(frozen=True)
class Plan:
    """The rehearsal's size. Nothing here is a bound on speed: `deadline_s` is how long any
    one wait for the system to converge may take before the rehearsal fails, saying what."""

    patients: int = 120
    providers: int = 4
    threads: int = 3
    pause_s: float = 0.15  # each load thread's pause between bookings: a bounded load
    phase_s: float = 4.0  # load between one kill and the next
    deadline_s: float = 120.0


@dataclass(repr=False)
class BookingLoad:
    """Patients book over HTTP, each once, spread over both API processes. A client that
    loses its connection retries the same request (same Idempotency-Key, same slot) on the
    other process, as behind a load balancer; a slot taken meanwhile means another slot."""

    ports: list[int]
    bearer: list[str]
    slots: list[UUID]
    threads: int
    pause_s: float
    acknowledged: dict[UUID, int] = field(default_factory=dict)  # appointment -> patient
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.next_patient = 0
        self.stopping = threading.Event()
        self.workers = [threading.Thread(target=self._run, args=(n,), name=f"load-{n}",
                                         daemon=True) for n in range(self.threads)]

    def start(self) -> BookingLoad:
        for worker in self.workers:
            worker.start()
        return self

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout)
        alive = [w.name for w in self.workers if w.is_alive()]
        assert not alive, f"load threads still running after {timeout:.0f}s: {alive}"

    @property
    def exhausted(self) -> bool:
        """Every patient has had their turn: no new bookings will come."""
        return self.next_patient >= len(self.bearer)

    def check(self) -> None:
        assert not self.failures, f"the API refused bookings it should take: {self.failures[:5]}"

    def _take_patient(self) -> int | None:
        with self.lock:
            if self.next_patient >= len(self.bearer):
                return None
            self.next_patient += 1
            return self.next_patient - 1

    def _run(self, n: int) -> None:
        rnd = random.Random(n)
        with httpx.Client(timeout=15) as client:
            while not self.stopping.is_set() and (patient := self._take_patient()) is not None:
                try:
                    self._book(client, rnd, patient, n)
                except Exception as exc:  # reported by check() in the caller's thread
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self.stopping.wait(self.pause_s)

    def _book(self, client: httpx.Client, rnd: random.Random, patient: int, turn: int) -> None:
        slot, attempt = rnd.choice(self.slots), 0
        while attempt < 40 and not self.stopping.is_set():
            port = self.ports[turn % len(self.ports)]
            turn += 1
            sent = time.perf_counter()
            try:
                answer = client.post(
                    f"http://127.0.0.1:{port}/bookings",
                    json={"slot_id": str(slot), "reason": "rehearsal"},
                    headers={"Authorization": self.bearer[patient],
                             "Idempotency-Key": f"rehearsal-{patient}-{attempt}"})
            except httpx.TransportError as exc:
                self.errors[f"transport: {type(exc).__name__}"] += 1
                self.stopping.wait(0.2)
                continue
            if answer.status_code == 201:
                with self.lock:
                    self.latencies_ms.append((time.perf_counter() - sent) * 1000)
                    self.acknowledged[UUID(answer.json()["id"])] = patient
                return
            if answer.status_code >= 500:
                self.errors[f"http {answer.status_code}"] += 1
                self.stopping.wait(0.2)
                continue
            code = answer.json().get("error") if answer.status_code == 409 else None
            if code == "idempotency-key-in-flight":
                self.stopping.wait(1.0)
                continue
            if code in ("slot-taken", "slot-held", "slot-unavailable"):
                with self.lock:
                    self.conflicts += 1
                slot, attempt = rnd.choice(self.slots), attempt + 1
                continue
            self.failures.append(f"POST /bookings: {answer.status_code} {answer.text[:300]}")
            return


class Rehearsal:
    """The processes, the load and the kills; `run()` returns the figures, and raises an
    AssertionError naming the invariant or the wait that failed."""

    def __init__(self, plan: Plan, servers: Servers, cluster: KafkaCluster, smtp: SmtpServer,
                 folder: Path) -> None:
        self.plan, self.servers, self.cluster, self.smtp = plan, servers, cluster, smtp
        self.folder = folder
        self.url = servers.database_url
        self.env = role_environment(self.url, servers.redis.url, cluster.bootstrap,
                                    (smtp.host, smtp.port),
                                    {"CLINIC_RATE_LIMIT_SCALE": "100000"})
        logs = folder / "logs"
        self.apis = [api_role(f"api-{n}", self.env, logs) for n in (1, 2)]
        self.projectors = [Role(f"project-{n}", ["project"], self.env, logs) for n in (1, 2)]
        self.relays = [Role(f"relay-{n}", ["relay"], self.env, logs) for n in (1, 2)]
        self.notifiers = [Role(f"notify-{n}", ["notify"], self.env, logs) for n in (1, 2)]
        self.figures: dict[str, Any] = {}

    @property
    def roles(self) -> list[Role]:
        return [*self.apis, *self.projectors, *self.relays, *self.notifiers]

    def check_roles(self) -> None:
        for role in self.roles:
            role.check()

    def wait(self, condition: Callable[[], bool], what: str) -> float:
        """Seconds until `condition` held; a missed deadline fails, saying what for."""
        started = time.perf_counter()
        deadline = started + self.plan.deadline_s
        while not condition():
            self.check_roles()
            if time.perf_counter() > deadline:
                raise AssertionError(f"gave up after {self.plan.deadline_s:.0f}s waiting for "
                                     f"{what}")
            time.sleep(0.05)
        return time.perf_counter() - started

    def positions(self) -> dict[str, int]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return follower_positions(conn)

    # --- set-up ---------------------------------------------------------------------------
    def start(self, driver: ClinicDriver) -> BookingLoad:
        """The schema Job, the first of each follower role (so which one is active is
        known), the standbys and the APIs, the seed data, the notifiers; the load prepared."""
        migrate(self.env, self.folder / "migrate")
        for first in (self.projectors[0], self.relays[0]):
            first.start()
        self.wait(lambda: self.projectors[0].active_workers() >= set(PROJECTORS)
                  and "relay" in self.relays[0].active_workers(),
                  "the first projector and relay to take their locks")
        for role in (self.projectors[1], self.relays[1], *self.apis):
            role.start()
        world = World(driver)
        world.grow_to(self.plan.providers * SLOTS_PER_PROVIDER)
        settings = Settings(database_url=self.url, redis_url=self.servers.redis.url)
        tokens = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
        sessions = PatientSessions(redis.Redis.from_url(self.servers.redis.url), tokens,
                                   idle_seconds=3600, absolute_seconds=3600)
        bearer = seed_patients(driver, sessions, self.plan.patients)
        # Only now: the notifier makes a fresh sign-in code for each registration's
        # SignInCodeRequested (decision 0018), which would replace the code the seeding is
        # about to verify with.
        for role in self.notifiers:
            role.start()
        for api in self.apis:
            wait_ready(api, self.plan.deadline_s)
        self.wait(self.caught_up, "the projectors and the relay to take in the seed data")
        return BookingLoad([a.port for a in self.apis if a.port], bearer,
                           self.bookable_slots(), self.plan.threads, self.plan.pause_s)

    def caught_up(self, head: int | None = None, names: tuple[str, ...] = (*READ_MODELS,
                                                                            "relay")) -> bool:
        at = self.positions()
        return all(at[n] >= (at["head"] if head is None else head) for n in names)

    def bookable_slots(self) -> list[UUID]:
        """The soonest open slots past the reminders' reach (24 h): each patient gets one
        confirmation and no reminder, so an email counted twice is an email sent twice.
        Three slots per patient, overlapping across services: bookings race for them."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT slot_id FROM open_slots WHERE status = 'open' "
                "AND start_at > now() + interval '26 hours' ORDER BY start_at LIMIT %s",
                (3 * self.plan.patients,)).fetchall()
        assert len(rows) == 3 * self.plan.patients, f"only {len(rows)} slots to book"
        return [row[0] for row in rows]

    # --- the kills ------------------------------------------------------------------------
    def under_load(self, seconds: float, load: BookingLoad) -> None:
        ends = time.perf_counter() + seconds
        while time.perf_counter() < ends:
            self.check_roles()
            load.check()
            time.sleep(0.1)

    def kill_notifier(self) -> None:
        """One of the consumer group's two members; a pod restart brings it back."""
        self.notifiers[0].kill()
        self.notifiers[0].start()

    def kill_api(self, load: BookingLoad) -> None:
        api = self.apis[0]
        api.kill()
        self.under_load(self.plan.phase_s, load)  # the other process takes every request
        api.start()
        self.figures["api_restart_to_ready_s"] = round(
            self.wait(api.ready, f"{api.name} to be ready again"), 2)

    def kill_active(self, pair: list[Role], names: tuple[str, ...], label: str) -> None:
        """SIGKILL whichever of the pair holds the locks; the standby takes over. Measured:
        kill -> standby active, and kill -> standby caught up with the log as it was at the
        kill (the lag the killed process left is back to zero)."""
        active = next(r for r in pair if set(names) <= r.active_workers())
        standby = next(r for r in pair if r is not active)
        head = self.positions()["head"]
        active.kill()
        started = time.perf_counter()
        self.wait(lambda: set(names) <= standby.active_workers(),
                  f"{standby.name} to take over from {active.name}")
        self.figures[f"{label}_takeover_active_s"] = round(time.perf_counter() - started, 2)
        tracked = tuple(n for n in names if n in (*READ_MODELS, "relay"))
        self.wait(lambda: self.caught_up(head, tracked),
                  f"{standby.name} to catch up to {head}")
        self.figures[f"{label}_takeover_caught_up_s"] = round(time.perf_counter() - started, 2)
        active.start()  # the restarted pod is the new standby

    def kill_broker(self, load: BookingLoad) -> None:
        """One of three brokers: partitions it led elect new leaders among the two in-sync
        replicas (min.insync.replicas=2 still met), the relay's acks=all sends go on."""
        head = self.positions()["head"]
        self.cluster.kill(1)
        started = time.perf_counter()
        self.wait(lambda: self.positions()["relay"] > head,
                  "the relay to publish bookings made after the broker's loss")
        self.figures["broker_loss_first_publish_s"] = round(time.perf_counter() - started, 2)
        self.under_load(self.plan.phase_s, load)
        started = time.perf_counter()
        self.cluster.restart(1)
        self.cluster.wait_healthy(self.plan.deadline_s)
        self.figures["broker_back_in_sync_s"] = round(time.perf_counter() - started, 2)

    def run_kills(self, load: BookingLoad) -> None:
        """One at a time, the load running throughout (and still running at each kill: a
        kill under no load would prove nothing). The notifier first: a SIGKILLed group
        member's partitions wait out its session timeout (45 s), which the other kills
        overlap; the broker next, while the most bookings are still to come."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("notifier", self.kill_notifier),
            ("broker", lambda: self.kill_broker(load)),
            ("api", lambda: self.kill_api(load)),
            ("projector", lambda: self.kill_active(self.projectors, PROJECTORS, "projector")),
            ("relay", lambda: self.kill_active(self.relays, ("relay",), "relay")),
        ]
        for name, step in steps:
            self.under_load(self.plan.phase_s, load)
            assert not load.exhausted, (f"the load ran out of patients before the {name} "
                                        "kill: raise Plan.patients or Plan.pause_s")
            step()
        self.under_load(self.plan.phase_s, load)

    def stop(self) -> None:
        """SIGTERM to every replica at once, then wait for each (pods stop in parallel)."""
        for role in self.roles:
            if role.alive() and role.proc is not None:
                role.proc.send_signal(signal.SIGTERM)
        for role in self.roles:
            role.terminate()

    # --- afterwards -----------------------------------------------------------------------
    def converge(self, load: BookingLoad, driver: ClinicDriver) -> tuple[list[Any], int]:
        """Every follower at the head, every email that is due sent. Returns the expected
        messages and how many emails they make."""
        self.wait(self.caught_up, "every projector and the relay to reach the log's head")
        expected = expected_messages(driver, "")
        emails = sum(e.name in EMAILED for e in expected)
        self.wait(lambda: len(self.smtp.messages) >= emails,
                  f"{emails} emails (have {len(self.smtp.messages)})")
        time.sleep(2)  # a repeat still in flight would arrive now
        return expected, emails

    def check_bookings(self, load: BookingLoad, driver: ClinicDriver) -> None:
        assert load.acknowledged, "no booking was acknowledged"
        for appointment_id in load.acknowledged:
            assert driver.appointment(appointment_id).status.value == "booked", appointment_id
        with psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT appointment_id FROM appointments WHERE status = "
                                "'booked' AND appointment_id = ANY(%s)",
                                (list(load.acknowledged),)).fetchall()
        missing = set(load.acknowledged) - {row[0] for row in rows}
        assert not missing, f"{len(missing)} acknowledged bookings not in the read model"
        doubles = double_bookings(self.url)
        assert doubles == 0, f"{doubles} pairs of overlapping booked visits of one provider"

    def check_kafka(self, expected: list[Any]) -> int:
        topics = list(TOPICS)
        return check_complete_and_ordered(expected, read_topics(self.cluster.bootstrap, topics))

    def check_emails(self, expected: list[Any], emails: int) -> None:
        per_subject: dict[str, Counter[str]] = defaultdict(Counter)
        for message in list(self.smtp.messages):
            for to in message.rcpt_tos:
                per_subject[str(message.message["Subject"])][to] += 1
        wanted = Counter(EMAILED[e.name] for e in expected if e.name in EMAILED)
        got = Counter({subject: sum(c.values()) for subject, c in per_subject.items()})
        assert got == wanted, f"emails by subject {dict(got)}, events say {dict(wanted)}"
        for subject, recipients in per_subject.items():
            twice = {to: n for to, n in recipients.items() if n > 1}
            assert not twice, f"{subject!r} sent more than once for one event: {twice}"
        assert sum(got.values()) == emails

    def check_rebuild(self, phi: PhiCipher) -> None:
        """Stop both projectors, keep what they built, replay the whole log into each read
        model with `clinic projections rebuild`, and compare table by table."""
        for role in self.projectors:
            role.terminate()
        before = self.read_model_rows(phi)
        env = self.env | {"CLINIC_DATA_DIR": str(self.folder / "rebuild")}
        rebuilds = {name: subprocess.Popen([*CLINIC, "projections", "rebuild", name], env=env,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)
                    for name in READ_MODELS}  # each read model has its own lock
        for name, proc in rebuilds.items():
            _, err = proc.communicate(timeout=self.plan.deadline_s)
            assert proc.returncode == 0, f"rebuild {name}: {err[-2000:]}"
        after = self.read_model_rows(phi)
        for table, rows in before.items():
            assert rows == after[table], (
                f"{table}: the live read model and a rebuild from zero differ: "
                f"{len(rows - after[table])} rows only live, {len(after[table] - rows)} "
                f"only rebuilt, e.g. {next(iter(rows - after[table]), None)} and "
                f"{next(iter(after[table] - rows), None)}")

    def read_model_rows(self, phi: PhiCipher) -> dict[str, Counter[tuple[Any, ...]]]:
        """Every read model table's rows, without the columns a projector stamps with its
        clock, and the visit reason opened (it is sealed with a fresh nonce each time)."""
        found: dict[str, Counter[tuple[Any, ...]]] = {}
        with psycopg.connect(self.url) as conn:
            for name in READ_MODELS:
                model = read_model(name, self.url, "public")
                # the analytics tables live in a schema of their own (infra/postgres/analytics.py)
                schema = str(getattr(model, "analytics", model.schema)).strip('"')
                tables = model.TABLES
                model.datastore.close()
                for table in tables:
                    columns = [row[0] for row in conn.execute(
                        "SELECT column_name FROM information_schema.columns WHERE "
                        "table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                        (schema, table)).fetchall() if row[0] not in WRITTEN_AT]
                    query = sql.SQL("SELECT {} FROM {}.{}").format(
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                        sql.Identifier(schema), sql.Identifier(table))
                    rows = conn.execute(query).fetchall()
                    if table == "appointments":
                        at = columns.index("reason")
                        rows = [(*row[:at], phi.open_text(row[at], reason_context(row[0])),
                                 *row[at + 1:]) for row in rows]
                    found[f"{schema}.{table}"] = Counter(tuple(map(_hashable, row))
                                                         for row in rows)
        return found

    def run(self) -> dict[str, Any]:
        driver = seeding_driver(Settings(database_url=self.url,
                                         redis_url=self.servers.redis.url,
                                         data_dir=self.folder / "seed"))
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            self.figures[f"{name}_s"] = round(time.perf_counter() - clock, 1)
            print(f"rehearsal: {name} took {self.figures[f'{name}_s']} s", file=sys.stderr,
                  flush=True)
            clock = time.perf_counter()

        try:
            load = self.start(driver)
            lap("setup")
            load.start()
            try:
                self.run_kills(load)
            finally:
                load.stop(self.plan.deadline_s)
            lap("load_and_kills")
            load.check()
            expected, emails = self.converge(load, driver)
            lap("converge")
            self.check_bookings(load, driver)
            repeats = self.check_kafka(expected)
            self.check_emails(expected, emails)
            lap("checks")
            assert isinstance(driver.data_keys, PhiCipher)
            self.check_rebuild(driver.data_keys)
            lap("rebuild_and_compare")
        finally:
            self.stop()
            driver.close()
        latencies = sorted(load.latencies_ms)
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        return {"bookings_acknowledged": len(load.acknowledged),
                "booking_errors": sum(load.errors.values()),
                "booking_errors_by_kind": dict(load.errors),
                "slot_conflicts_409": load.conflicts,
                "booking_p50_ms": round(cuts[49], 1), "booking_p95_ms": round(cuts[94], 1),
                "booking_p99_ms": round(cuts[98], 1),
                "events_published": len(expected), "kafka_repeats": repeats,
                "emails": emails, **self.figures}


def _hashable(value: Any) -> Any:
    """jsonb columns come back as dicts and lists: compare them as canonical JSON."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


@contextmanager
def rehearsal(plan: Plan, servers: Servers, cluster: KafkaCluster, smtp: SmtpServer,
              folder: Path) -> Iterator[Rehearsal]:
    run = Rehearsal(plan, servers, cluster, smtp, folder)
    try:
        yield run
    finally:
        run.stop()
