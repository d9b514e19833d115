"""The outbox relay: follow the event store's notification log and publish to Kafka.

It is shaped like a read model (position / process / tick / reset) so the same runner and the
same one-active-instance lock drive it (infra/wiring/followers.py). The position moves only after
the broker acknowledged every message of the batch: a crash or an outage repeats messages
(consumers deduplicate on the event_id header), it never loses one. A batch is republished
from its start, so each key's messages stay in order, repeats aside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from eventsourcing.persistence import Tracking, TrackingRecorder

from projections.messages import Loader, Message, message_for
from projections.ports import MessagePublisher, OutboundMessage, PublishError

log = structlog.get_logger("clinic.relay")


class Relay:
    name = "relay"

    def __init__(self, tracking: TrackingRecorder, connect: Callable[[], MessagePublisher],
                 encode: Callable[[Message], OutboundMessage], load: Loader) -> None:
        self.tracking = tracking
        self.connect = connect
        self.publisher = connect()
        self.encode = encode
        self.load = load
        self.published = 0  # messages acknowledged since start (for the status line / tests)

    def position(self, application_name: str) -> int | None:
        position: int | None = self.tracking.max_tracking_id(application_name)
        return position

    def outbound(self, events: Sequence[Any]) -> list[OutboundMessage]:
        return [self.encode(m) for m in (message_for(e, self.load) for e in events) if m]

    def process(self, events: Sequence[Any], tracking: Tracking) -> None:
        messages = self.outbound(events)
        if messages:
            try:
                self.publisher.publish(messages)
            except PublishError:
                # A fresh producer after a failure: no poisoned idempotence state carries over.
                self.publisher.close()
                self.publisher = self.connect()
                raise
            self.published += len(messages)
        self.tracking.insert_tracking(tracking)

    def tick(self) -> None:
        """Nothing is time-driven here."""

    def reset(self) -> None:
        raise RuntimeError("the relay's position cannot be reset here; see docs/messaging.md")

    def close(self) -> None:
        self.publisher.close()
