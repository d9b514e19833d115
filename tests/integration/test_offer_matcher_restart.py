"""The offer matcher SIGKILLed mid-stream and restarted: no offer is lost or made twice
(issue 22; docs/waitlist.md, decisions 0049 and 0051).

The matcher runs where production runs it, in `clinic project` as an OS process of its own
(with every read model, so its read model is killed with it); `clinic relay` and
`clinic notify` carry its offers to Kafka and to a real SMTP server; the clinic's use cases
run in the test. Freed times: cancellations of booked visits, each with a line of patients
waiting for exactly that time. Each patient acts on the email alone: the offer email arrives,
they decline it by leaving the waitlist (the offer goes on at once, decision 0051) or, last
in line, accept it; so each freed time makes the matcher offer it to every patient in its
line, in order, one at a time, through the whole path.

Meanwhile `clinic project` dies four times, and is started again each time: by its own
SIGKILL at an exact point of a step (tests/harness/crash_points.py), just before an offer's
save with the hold already placed (first: the hold it leaves keeps that time for ORPHANED,
30 s); by an outside SIGKILL a few offers later, just after one was recorded (the rest of its
pass undone), and more time is freed while it is down; by its own SIGKILL just after an
offer's save; by an outside SIGKILL late in the stream. The seed is printed.

What is checked, and the guarantee each check states:
- the event log: exactly one `Opening.Offered` per offer id, mirrored by exactly one
  `WaitlistEntry.Offered`; every patient in every line offered their time exactly once, in
  line order (none lost, none repeated); per freed time never a second offer before the open
  one lapsed, and exactly one acceptance;
- Kafka (the topic read back, every partition to its end): exactly one `WaitlistOffered`
  message per offer id, and only for offers in the log. No duplicate record is tolerated
  (the relay is not killed here, and a consumer dedups by event id, not by offer id);
- the SMTP server: exactly one offer email per offer, to its patient, and only for an offer
  the log holds (the notifier sends an offer only while it is open; every offer here stays
  open until its email arrived).

A broken matcher fails (both tried, neither committed). One that published an offer before
recording it, instead of through the log: after the before-save crash the restarted matcher
makes the same offer (its id derived from the opening and round) to the next patient while
the first one's message is already out; the notifier skips both (not open for the first;
a repeat of its event id for the second), the patient never hears, the line stalls and the
wait fails naming the offers recorded but never emailed; had it got further, Kafka would
hold two messages for one offer id. One that published only after recording, outside the
log: the after-save crash (and the outside kills that land there) lose those messages, with
the same failure. One that kept its progress in memory would offer a patient twice or
forget the time freed while it was down.
"""

from __future__ import annotations

import random
import re
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from commands.booking import BookingCreate
from commands.context import Actor
from commands.waitlist_models import OfferAcceptance, WaitlistJoin
from domain.access import Role as Access
from domain.openings import Opening
from domain.waitlist import WaitlistEntry
from infra.embedded.kafka import EmbeddedKafka
from infra.settings import Settings
from infra.wiring.container import Container
from projections.messages import WAITLIST_TOPIC
from tests.builders import World, build_world
from tests.driver import ClinicDriver, drive
from tests.harness.crash_points import CRASH_POINT
from tests.harness.roles import Role, role_environment
from tests.harness.smtp import SmtpServer
from tests.harness.topics import decode_with_only_the_avsc

FREED = 8  # times freed by cancellations
IN_LINE = 4  # patients waiting for each of them
EARLY = 4  # freed at the start; the rest while the matcher is down (after the second kill)
DEADLINE_S = 150.0  # a bound for a failure, not a speed check: passing takes ~60 s
OFFER_SUBJECT = "A time on your waitlist is free"
ACCEPT_LINK = re.compile(r"/waitlist/([0-9a-f-]{36})/offer\?offer_id=([0-9a-f-]{36})")
OFFERED_TOPIC = "domain.openings:Opening.Offered"


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka) -> Settings:
    return settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "kafka_topic_prefix": f"{settings.db_schema}.",
        "notify_group": f"notify-{settings.db_schema}"})


@dataclass(frozen=True)
class OpenSlot:
    slot_id: UUID
    start: datetime
    end: datetime


@dataclass
class Waiting:
    line: int  # which freed time
    place: int  # 0: first in line
    patient_id: UUID
    email: str
    entry_id: UUID | None = None

    @property
    def actor(self) -> Actor:
        return Actor(subject=str(self.patient_id), role=Access.patient)


@dataclass
class Scenario:
    """The patients, the freed times, and what the test saw happen."""

    container: Container
    world: World
    leavers: list[UUID]
    waiting: list[Waiting]
    slots: list[OpenSlot] = field(default_factory=list)
    bookings: list[UUID] = field(default_factory=list)
    emailed: Counter[UUID] = field(default_factory=Counter)  # offer id -> offer emails
    answered: set[UUID] = field(default_factory=set)  # offers declined or accepted
    read: int = 0  # SMTP messages looked at so far

    @property
    def by_entry(self) -> dict[UUID, Waiting]:
        return {w.entry_id: w for w in self.waiting if w.entry_id is not None}

    def join_all(self) -> None:
        """Each line joins in order, each patient for exactly their freed time."""
        use_cases = self.container.use_cases
        for w in self.waiting:
            slot = self.slots[w.line]
            w.entry_id = use_cases.waitlist.join(WaitlistJoin(
                service_id=self.world.checkup, clinic_ids=[self.world.clinic],
                provider_id=self.world.provider, not_before=slot.start, not_after=slot.end),
                w.actor).result.id

    def book_all(self) -> None:
        bookings = self.container.use_cases.bookings
        for leaver, slot in zip(self.leavers, self.slots, strict=True):
            self.bookings.append(bookings.book(BookingCreate(slot_id=slot.slot_id),
                                               _patient(leaver)).result.id)

    def cancel(self, lines: range) -> None:
        bookings = self.container.use_cases.bookings
        for n in lines:
            bookings.cancel(self.bookings[n], "", _patient(self.leavers[n]))

    def act_on_email(self, smtp: SmtpServer) -> None:
        """Each patient reads their new offer email: the last in line accepts, the others
        decline by leaving the waitlist."""
        use_cases = self.container.use_cases
        arrived = list(smtp.messages)
        for message in arrived[self.read:]:
            if str(message.message["Subject"]) != OFFER_SUBJECT:
                continue
            body = message.message.get_body(("plain",))
            assert body is not None
            found = ACCEPT_LINK.search(str(body.get_content()))
            assert found, "an offer email without its accept link"
            entry_id, offer_id = UUID(found[1]), UUID(found[2])
            self.emailed[offer_id] += 1
            w = self.by_entry[entry_id]
            assert message.rcpt_tos == [w.email]
            assert offer_id in self.recorded(entry_id), \
                f"an email for offer {offer_id} that the log does not hold for its entry " \
                "(sent before it was recorded)"
            if offer_id in self.answered:
                continue  # a repeat: counted, and checked at the end
            self.answered.add(offer_id)
            if w.place == IN_LINE - 1:
                use_cases.waitlist.accept(entry_id, OfferAcceptance(offer_id=offer_id),
                                          w.actor)
            else:
                use_cases.waitlist.leave(entry_id, w.actor)
        self.read = len(arrived)

    def recorded(self, entry_id: UUID) -> list[UUID]:
        """The offers the event log holds for the entry."""
        return [e.offer_id for e in self.container.app.events.get(entry_id)
                if isinstance(e, WaitlistEntry.Offered)]

    def unheard(self) -> list[UUID]:
        """Offers recorded whose email has not come."""
        return [offer for w in self.waiting if w.entry_id is not None
                for offer in self.recorded(w.entry_id) if offer not in self.emailed]

    def done(self) -> bool:
        return len(self.answered) == FREED * IN_LINE


def _patient(patient_id: UUID) -> Actor:
    return Actor(subject=str(patient_id), role=Access.patient)


def _open_slots(container: Container, world: World, count: int) -> list[OpenSlot]:
    """The provider's first open checkup slots at the clinic past the reminders' reach."""
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT slot_id, start_at, end_at FROM open_slots WHERE provider_id = %s "
            "AND service_id = %s AND clinic_id = %s AND status = 'open' "
            "AND start_at > now() + interval '26 hours' ORDER BY start_at LIMIT %s",
            (world.provider, world.checkup, world.clinic, count)).fetchall()
    return [OpenSlot(*row) for row in rows]


def _seed(container: Container, driver: ClinicDriver) -> Scenario:
    world = build_world(driver)
    leavers = [driver.ready_patient("Leaves", f"Early{n}", f"leaver{n}@example.org")
               for n in range(FREED)]
    waiting = []
    for line in range(FREED):
        for place in range(IN_LINE):
            email = f"wait{line}-{place}@example.org"
            waiting.append(Waiting(line, place, driver.ready_patient(
                "Wait", f"Line{line}Place{place}", email), email))
    return Scenario(container, world, leavers, waiting)


class Matcher:
    """`clinic project` as one restartable process, killed from outside or by a crash point
    of its own; each kill is counted with the offers recorded by then."""

    def __init__(self, role: Role, offered: Callable[[], int]) -> None:
        self.role, self.offered = role, offered
        self.base_env = dict(role.env)
        self.kills: list[tuple[str, int, float]] = []  # how, offers by then, when (s)
        self.started = time.monotonic()

    def start(self, crash_point: str | None = None) -> None:
        self.role.env = self.base_env | ({CRASH_POINT: crash_point} if crash_point else {})
        self.role.start()

    def crashed(self) -> bool:
        """The process SIGKILLed itself at its crash point (any other exit fails)."""
        proc = self.role.proc
        if proc is None or proc.poll() is None:
            return False
        if proc.returncode != -signal.SIGKILL:
            self.role.check()
        self._killed(f"crash point {self.role.env.get(CRASH_POINT)}")
        self.role.proc = None
        return True

    def crashed_since(self, kills: int) -> Callable[[], bool]:
        return lambda: len(self.kills) > kills

    def kill(self) -> None:
        self.role.kill()
        self._killed("SIGKILL")

    def _killed(self, how: str) -> None:
        self.kills.append((how, self.offered(), round(time.monotonic() - self.started, 1)))


def _count(container: Container, query: str, *args: Any) -> int:
    with container.pool.connection() as conn:
        row = conn.execute(query, args).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _caught_up(container: Container, names: tuple[str, ...]) -> bool:
    head = _count(container, "SELECT max(notification_id) FROM clinic_events")
    return all(_count(container, f"SELECT max(notification_id) FROM {name}_tracking "
                                 "WHERE application_name = 'clinic'") >= head for name in names)


def _whole_topic(bootstrap: str, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every message of every partition, up to each partition's end as the broker has it."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        remaining = {p for p, end in ends.items() if end > 0}
        received: list[Message] = []
        deadline = time.monotonic() + timeout
        while remaining:
            assert time.monotonic() < deadline, f"{topic}: partitions {remaining} not read"
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            received.append(message)
            partition, offset = message.partition() or 0, message.offset() or 0
            if offset + 1 >= ends[partition]:
                remaining.discard(partition)
        return received
    finally:
        consumer.close()


def test_the_offer_matcher_killed_mid_stream_loses_and_repeats_no_offer(
        settings: Settings, container: Container, kafka: EmbeddedKafka, smtp: SmtpServer,
        tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    print(f"\nrandom seed {seed}")
    rnd = random.Random(seed)
    assert settings.database_url and settings.redis_url
    env = role_environment(settings.database_url, settings.redis_url, kafka.bootstrap,
                           (smtp.host, smtp.port), {
                               "CLINIC_DB_SCHEMA": settings.db_schema,
                               "CLINIC_KAFKA_REPLICATION": "1",
                               "CLINIC_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
                               "CLINIC_NOTIFY_GROUP": settings.notify_group,
                               "CLINIC_LOG_LEVEL": "INFO"})
    folder = tmp_path / "roles"
    relay, notify = Role("relay", ["relay"], env, folder), Role("notify", ["notify"], env, folder)
    project = Role("project", ["project"], env, folder,
                   program=[sys.executable, "-m", "tests.harness.crash_points"])

    def offered() -> int:
        return _count(container, "SELECT count(*) FROM clinic_events WHERE topic = %s",
                      OFFERED_TOPIC)

    matcher = Matcher(project, offered)
    started = matcher.started
    deadline = started + DEADLINE_S

    def wait(condition: Callable[[], bool], what: str, each: Callable[[], None] = lambda: None
             ) -> None:
        while not condition():
            for role in (relay, notify):
                role.check()
            assert time.monotonic() < deadline, f"gave up waiting for {what}; kills " \
                f"{matcher.kills}; {len(scenario.answered)} offers answered, " \
                f"{offered()} recorded; recorded but never emailed: {scenario.unheard()}"
            each()
            time.sleep(0.02)

    driver = drive(container)
    scenario = _seed(container, driver)  # before the notifier: its sign-in codes would
    seeded = time.monotonic()            # replace those the seeding verifies with
    try:
        # 1. The first process SIGKILLs itself just before an offer's save, in its first
        #    pass (the hold it leaves delays that time by ORPHANED, 30 s: so this comes first).
        first_crash = f"before-save:{rnd.randint(2, 3)}"
        matcher.start(first_crash)
        relay.start()
        notify.start()
        wait(lambda: len(_open_slots(container, scenario.world, FREED)) == FREED,
             "the projector to list the clinic's slots")
        scenario.slots = _open_slots(container, scenario.world, FREED)
        scenario.join_all()
        scenario.book_all()
        scenario.cancel(range(EARLY))
        total = FREED * IN_LINE

        def flowing() -> None:
            scenario.act_on_email(smtp)
            matcher.crashed()

        def crash_at(point: str) -> None:
            wait(matcher.crashed_since(len(matcher.kills)), f"the crash point {point}",
                 flowing)
            time.sleep(rnd.uniform(0.2, 1.0))

        def kill_after(offers: int) -> None:
            """SIGKILL from outside just after the offer count reached `offers` (the rest
            of the pass undone)."""
            wait(lambda: offered() >= offers, f"{offers} offers", flowing)
            time.sleep(rnd.uniform(0, 0.05))
            matcher.kill()

        crash_at(first_crash)
        # 2. From outside, a few offers on; more time is freed while the matcher is down.
        matcher.start()
        kill_after(offered() + rnd.randint(1, 3))
        scenario.cancel(range(EARLY, FREED))
        time.sleep(rnd.uniform(0.2, 1.0))
        # 3. By itself, just after an offer's save.
        point = f"after-save:{rnd.randint(1, 2)}"
        matcher.start(point)
        crash_at(point)
        # 4. From outside again, later in the stream.
        matcher.start()
        kill_after(rnd.randint(min(offered() + 2, total - 4), total - 4))
        time.sleep(rnd.uniform(0.2, 1.0))
        matcher.start()

        wait(scenario.done, "every patient in every line to be offered their time", flowing)
        wait(lambda: _caught_up(container, ("waitlist", "slot_search", "relay")),
             "the projectors and the relay to catch up")
        time.sleep(2.5)  # one more pass of the matcher: nothing more to offer
        flowing()
        assert matcher.role.alive()
        print(f"kills (how, offers recorded by then, s): {matcher.kills}; seeded in "
              f"{seeded - started:.1f}s, all done in {time.monotonic() - started:.1f}s")
        for how, at, _ in matcher.kills:
            assert 0 < at < total, f"{how} was not mid-stream ({at} of {total} offers)"

        offers = _check_event_log(scenario)
        _check_kafka(kafka.bootstrap, settings.kafka_topic_prefix + WAITLIST_TOPIC, offers)
        assert scenario.emailed == Counter({offer: 1 for offer in offers}), \
            "not exactly one offer email per offer"
    finally:
        for role in (project, relay, notify):
            role.terminate()


def _check_event_log(scenario: Scenario) -> dict[UUID, UUID]:
    """Every line offered in order, each patient once, one open offer at a time, one
    acceptance per freed time; returns each offer's entry."""
    app = scenario.container.app
    opening_ids = [Opening.create_id(b, app.repository.get(b).version) for b in scenario.bookings]
    lines = {line: [w.entry_id for w in scenario.waiting if w.line == line]
             for line in range(FREED)}
    offers: dict[UUID, UUID] = {}
    for line, opening_id in enumerate(opening_ids):
        events = list(app.events.get(opening_id))
        assert type(events[0]) is Opening.Opened
        assert events[0].slot_id == scenario.slots[line].slot_id
        open_offer: UUID | None = None
        for e in events[1:]:
            if isinstance(e, Opening.Offered):
                assert open_offer is None, f"line {line}: {e.offer_id} while {open_offer} open"
                assert e.offer_id not in offers, f"offer {e.offer_id} recorded twice"
                open_offer, offers[e.offer_id] = e.offer_id, e.entry_id
            elif isinstance(e, Opening.OfferLapsed):
                assert e.offer_id == open_offer and e.cause == "declined"
                open_offer = None
            elif isinstance(e, Opening.Accepted):
                assert e.offer_id == open_offer
                open_offer = None
        kinds = [type(e).__name__ for e in events]
        assert kinds == ["Opened", *["Offered", "OfferLapsed"] * (IN_LINE - 1), "Offered",
                         "Accepted"], f"line {line}: {kinds}"
        offered_to = [e.entry_id for e in events if isinstance(e, Opening.Offered)]
        assert offered_to == lines[line], f"line {line}: offered out of line order"
    for entry_id in (w.entry_id for w in scenario.waiting):
        assert entry_id is not None
        mirrored = [e.offer_id for e in app.events.get(entry_id)
                    if isinstance(e, WaitlistEntry.Offered)]
        assert len(mirrored) == 1 and offers[mirrored[0]] == entry_id, \
            f"entry {entry_id}: offers {mirrored} on the entry"
    assert len(offers) == FREED * IN_LINE
    stored = _count(scenario.container, "SELECT count(*) FROM clinic_events WHERE topic = %s",
                    OFFERED_TOPIC)
    assert stored == len(offers), "an offer recorded outside the freed times' lines"
    return offers


def _check_kafka(bootstrap: str, topic: str, offers: dict[UUID, UUID]) -> None:
    """One `WaitlistOffered` message per offer id, each for an offer in the log."""
    per_offer: Counter[UUID] = Counter()
    for message in _whole_topic(bootstrap, topic):
        name, record = decode_with_only_the_avsc(message.value() or b"")
        if name != "WaitlistOffered":
            continue
        offer_id = UUID(str(record["offer_id"]))
        per_offer[offer_id] += 1
        assert offers.get(offer_id) == UUID(str(record["entry_id"])), \
            f"offer {offer_id} on Kafka is not in the event log (or names another entry)"
        assert message.key() == str(record["entry_id"]).encode()
    twice = {offer: n for offer, n in per_offer.items() if n > 1}
    assert not twice, f"offers published more than once: {twice}"
    assert set(per_offer) == set(offers), "offers in the log but not on Kafka"


