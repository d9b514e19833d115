"""The webhook dispatcher: a consumer of the appointment topic in a consumer group of its own,
and the sender of what its delivery log says is due.

For each message of a type some active subscription asked for (and that happened after the
subscription was registered), one delivery per subscription is recorded in PostgreSQL, keyed
by (message id, subscription): a message Kafka hands over again, or a restart, finds the row
and records nothing. The message is acknowledged once recorded. Sending is separate: due
deliveries are claimed from the log and POSTed, each attempt recorded; a failed one waits
its backoff, and after the last attempt the delivery is dead; a 410 Gone disables the
subscription at once (docs/webhooks.md).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from commands.context import Actor
from commands.webhooks import Destination, Webhooks
from infra.mail.sources import Incoming, Source
from infra.messaging.avro import AvroCodec, UndecodableMessageError
from infra.observability.metrics import record_webhook_attempt
from infra.postgres.webhook_deliveries import Due, PostgresWebhookDeliveries
from infra.webhooks.schedule import RetrySchedule
from infra.webhooks.sender import WebhookSender
from projections.webhooks import WEBHOOK_TOPICS, WEBHOOK_TYPES, body_of

log = structlog.get_logger("clinic.webhooks")
CACHE_SECONDS = 5.0  # subscriptions read from the event store at most this long ago...
FRESH_MARGIN = 2.0  # ...and only for messages older than the read by this much


GONE = 410  # Standard Webhooks: the receiver asks to be unsubscribed
PARTNER_GONE = Actor(subject="webhooks", system=True)


class Stopped(Exception):
    """Asked to stop while a step kept failing."""


class WebhookDispatcher:
    name = "webhooks"

    def __init__(self, source: Source, webhooks: Webhooks,
                 deliveries: PostgresWebhookDeliveries, sender: WebhookSender,
                 schedule: RetrySchedule, *, topic_prefix: str = "", concurrency: int = 4,
                 codec: AvroCodec | None = None) -> None:
        self.source, self.webhooks, self.deliveries = source, webhooks, deliveries
        self.sender, self.schedule = sender, schedule
        # Attempts run side by side, so that one slow partner does not hold up the others.
        self.batch = concurrency * 2
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook-send")
        self.topics = {topic_prefix + topic for topic in WEBHOOK_TOPICS}
        self.codec = codec or AvroCodec()
        self.lease = sender.client.timeout.read or 10.0
        self.stopping = threading.Event()
        self._destinations: list[Destination] = []
        self._read_at = float("-inf")  # time.time() of the last read

    # Messages in --------------------------------------------------------------------------
    def handle(self, incoming: Incoming) -> int:
        """Record the deliveries one message calls for; how many were new."""
        message_type = _header(incoming, "event_type")
        if incoming.topic not in self.topics or message_type not in WEBHOOK_TYPES:
            return 0
        try:
            message_id = UUID(_header(incoming, "event_id"))
            name, record = self.codec.decode(incoming.value)
        except (ValueError, UndecodableMessageError) as exc:
            log.error("message not deliverable as a webhook", error=str(exc))
            return 0
        occurred_at = record.get("occurred_at")
        if not isinstance(occurred_at, datetime):
            log.error("message without occurred_at", message_type=name)
            return 0
        new = 0
        for destination in self._destinations_for(occurred_at):
            if name in destination.events and occurred_at >= destination.since:
                body = body_of(name, message_id, occurred_at, record)
                new += self.deliveries.record(message_id, destination.subscription_id, name,
                                              body)
        return new

    def _destinations_for(self, occurred_at: datetime) -> list[Destination]:
        now = time.time()
        if now - self._read_at > CACHE_SECONDS or \
                occurred_at.timestamp() > self._read_at - FRESH_MARGIN:
            self._destinations, self._read_at = self.webhooks.destinations(), now
        return self._destinations

    # Deliveries out -----------------------------------------------------------------------
    def deliver_due(self) -> int:
        """Attempt what is due now; how many attempts were made."""
        due = self.deliveries.claim_due(self.batch, self.lease * 2 + 5)
        for _ in self.pool.map(self._attempt, due):  # an error is raised here: the step
            pass                                     # is tried again, the rest re-claimed
        return len(due)

    def _attempt(self, due: Due) -> None:
        destination = self.webhooks.destination(due.subscription_id)
        if destination is None:
            self.deliveries.cancel(due)
            return
        sent = self.sender.send(destination.url, destination.secret, str(due.message_id),
                                due.body)
        gone = sent.attempt.http_status == GONE
        retry_in = None if sent.delivered or gone else self.schedule.delay(
            due.attempt, sent.retry_after)
        status = self.deliveries.attempted(due, sent.attempt, retry_in, sent.delivered)
        if gone:  # the partner says the endpoint is gone for good: stop sending to it
            self.webhooks.disable(due.subscription_id, PARTNER_GONE)
            log.warning("webhook disabled: the partner answered 410 Gone",
                        webhook_id=str(due.subscription_id))
        record_webhook_attempt("delivered" if sent.delivered else
                               "failed" if status == "pending" else "dead")
        log.info("webhook attempt", delivery_id=str(due.delivery_id), attempt=due.attempt,
                 http_status=sent.attempt.http_status, status=status)

    # The worker ---------------------------------------------------------------------------
    def run_once(self, timeout: float = 0.5) -> int:
        """Take what the source has, record it, then send what is due; how much happened."""
        handled = 0
        for incoming, token in self.source.poll(timeout):
            self._until_done(lambda incoming=incoming: self.handle(incoming))
            self.source.ack(token)
            handled += 1
        return handled + self._until_done(self.deliver_due)

    def _until_done(self, step: Any) -> int:
        """A failure of ours (database down) blocks the step until it passes: skipping a
        message would lose its deliveries (Stopped leaves it unacknowledged)."""
        wait = 0.5
        while True:
            try:
                result: int = step()
                return result
            except Exception:
                log.exception("webhook dispatch failed; retrying")
                if self.stopping.wait(wait):
                    raise Stopped from None
                wait = min(wait * 2, 30.0)

    def run_forever(self) -> None:
        try:
            while not self.stopping.is_set():
                if not self.run_once():
                    self.stopping.wait(0.5)
        except Stopped:
            pass

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _header(incoming: Incoming, name: str) -> str:
    value = incoming.headers.get(name)
    return value.decode("utf-8", "replace") if value else ""
