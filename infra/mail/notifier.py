"""`clinic notify`: consume the topics, email patients, at least once.

Each message is handled, then acknowledged (its offset stored for the next commit): a crash
repeats messages, never skips one. The event_id header deduplicates: an event already handled
(sent, skipped or dead-lettered) is recorded in notify_log and not handled again, so the
relay's repeats never reach a patient twice. The record follows the send (SMTP has no
idempotency), so a crash or rebalance between the two sends that email again: a rare repeat
rather than a lost email (docs/messaging.md, "Duplicates"). A transient send failure is
retried with exponential backoff; a permanent one, an undecodable message, or a transient
one that outlives every attempt goes to the dead-letter topic with the reason in its headers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import UUID

import structlog

from infra.mail.smtp import Mailer, PermanentDeliveryError, TransientDeliveryError
from infra.mail.sources import Incoming, Source
from infra.messaging.avro import AvroCodec, UndecodableMessageError
from infra.messaging.tracing import processing
from infra.observability.metrics import record_notification
from infra.postgres.delivery_log import DeliveryLog
from projections.messages import DEAD_LETTER_TOPIC
from projections.notifications.compose import Composer, Email, Skip
from projections.ports import MessagePublisher, OutboundMessage

log = structlog.get_logger("clinic.notify")

class Stopped(Exception):
    """Asked to stop while waiting to retry: the message stays unacknowledged."""


class Notifier:
    name = "notifier"

    def __init__(self, source: Source, composer: Composer, mailer: Mailer,
                 delivery_log: DeliveryLog, dead_letters: MessagePublisher, *,
                 max_attempts: int = 6, backoff: float = 1.0, max_backoff: float = 300.0,
                 codec: AvroCodec | None = None,
                 dead_letter_topic: str = DEAD_LETTER_TOPIC) -> None:
        self.source, self.composer, self.mailer = source, composer, mailer
        self.log, self.dead_letters = delivery_log, dead_letters
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff
        self.codec = codec or AvroCodec()
        self.dead_letter_topic = dead_letter_topic
        self.stopping = threading.Event()
        self.handled = 0  # messages taken from the source since start
        self.system = getattr(source, "system", "kafka")  # messaging.system of its spans

    def handle(self, incoming: Incoming) -> str:
        """Deliver one message (or decide not to); return the outcome."""
        event_id, event_type = _header(incoming, "event_id"), _header(incoming, "event_type")
        try:
            seen = UUID(event_id)
        except ValueError:
            return self._dead_letter(incoming, "no valid event_id header", 0)
        if self.log.handled(seen):
            return "duplicate"
        try:
            name, record = self.codec.decode(incoming.value)
        except UndecodableMessageError as exc:
            return self._dead_letter(incoming, str(exc), 0, seen, event_type or "unknown")
        composed = self.composer.compose(name, record)
        if composed is None:
            return "ignored"
        if isinstance(composed, Skip):
            self.log.record(seen, name, "skipped", composed.reason, 0)
            log.info("notification skipped", event_type=name, reason=composed.reason)
            return "skipped"
        return self._send(incoming, seen, name, composed)

    def _send(self, incoming: Incoming, event_id: UUID, name: str, email: Email) -> str:
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.mailer.send(email.message, email.patient_id)
            except PermanentDeliveryError as exc:
                return self._dead_letter(incoming, str(exc), attempt, event_id, name)
            except TransientDeliveryError as exc:
                log.warning("send failed; will retry", event_type=name, attempt=attempt,
                            error=str(exc))
                if attempt == self.max_attempts:
                    return self._dead_letter(incoming, f"gave up: {exc}", attempt, event_id,
                                             name)
                if self.stopping.wait(min(self.backoff * 2 ** (attempt - 1),
                                          self.max_backoff)):
                    raise Stopped from None
            else:
                self.log.record(event_id, name, "sent", "", attempt)
                log.info("notification sent", event_type=name, attempts=attempt)
                return "sent"
        raise AssertionError("unreachable")

    def _dead_letter(self, incoming: Incoming, reason: str, attempts: int,
                     event_id: UUID | None = None, name: str = "unknown") -> str:
        headers = {**incoming.headers, "dlq_reason": reason.encode(),
                   "dlq_source_topic": incoming.topic.encode(),
                   "dlq_attempts": str(attempts).encode(),
                   "dlq_failed_at": datetime.now(UTC).isoformat().encode()}
        self.dead_letters.publish([OutboundMessage(self.dead_letter_topic, incoming.key or b"",
                                                   incoming.value, headers)])
        if event_id is not None:
            self.log.record(event_id, name, "dead-lettered", reason, attempts)
        log.error("notification dead-lettered", event_type=name, reason=reason)
        return "dead-lettered"

    def redeliver(self, dead: Incoming) -> str:
        """Handle a dead letter again, as the message it was (after its cause was fixed)."""
        headers = {k: v for k, v in dead.headers.items() if not k.startswith("dlq_")}
        try:
            self.log.forget_dead_letter(UUID(_header(dead, "event_id")))
        except ValueError:
            return self._dead_letter(dead, "no valid event_id header", 0)
        return self.handle(Incoming(_header(dead, "dlq_source_topic") or dead.topic, dead.key,
                                    dead.value, headers))

    def redeliver_all(self, idle: float = 10.0) -> dict[str, int]:
        """Redeliver what the (dead-letter) source holds until it stays quiet for `idle` s."""
        outcomes: dict[str, int] = {}
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle and not self.stopping.is_set():
            for dead, token in self.source.poll(0.5):
                with _processing(dead, self.system):
                    outcome = self.redeliver(dead)
                record_notification(outcome)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                self.source.ack(token)
                quiet_since = time.monotonic()
        return outcomes

    def run_once(self, timeout: float = 1.0) -> int:
        """Handle what the source has now; return how many messages that was."""
        batch = self.source.poll(timeout)
        for incoming, token in batch:
            with _processing(incoming, self.system):
                self._handle_until_done(incoming)
            self.source.ack(token)
            self.handled += 1
        return len(batch)

    def drain(self) -> int:
        total = 0
        while handled := self.run_once(0.5):
            total += handled
        return total

    def _handle_until_done(self, incoming: Incoming) -> None:
        """A failure that is not the email's (database, Redis, broker) blocks this message
        until it passes: skipping it would lose it."""
        wait = self.backoff or 0.5
        while True:
            try:
                record_notification(self.handle(incoming))
                return
            except Stopped:
                raise
            except Exception:
                log.exception("handling failed; retrying", topic=incoming.topic)
                if self.stopping.wait(wait):
                    raise Stopped from None
                wait = min(wait * 2, 30.0)

    def run_forever(self) -> None:
        try:
            while not self.stopping.is_set():
                self.run_once()
        except Stopped:
            pass

    def stop(self) -> None:
        self.stopping.set()


@contextmanager
def _processing(incoming: Incoming, system: str) -> Iterator[None]:
    """The message's process span (the child of its publish span), and its originating
    request's id on every log line, while it is handled."""
    request_id = _header(incoming, "request_id")
    bound = {"request_id": request_id} if request_id not in ("", "-") else {}
    with processing(incoming.topic, incoming.headers, system, incoming.key), \
            structlog.contextvars.bound_contextvars(**bound):
        yield


def _header(incoming: Incoming, name: str) -> str:
    value = incoming.headers.get(name)
    return value.decode("utf-8", "replace") if value else ""

