"""The message path, run in the test's own thread: the relay to the local sink (or Kafka, when
the settings name a broker), then the notifier from there into the development mailbox
(`clinic demo` runs the same two as background workers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from infra.messaging.avro import AvroCodec
from infra.messaging.sink import LocalSink
from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.notifier import build_kafka_notifier, build_local_notifier
from infra.wiring.relay import build_relay
from projections.relay import Relay


class LocalDelivery:
    def __init__(self, settings: Settings) -> None:
        self.relay, relay_resources = build_relay(settings)
        build_notifier = build_kafka_notifier if settings.kafka_bootstrap else build_local_notifier
        self.notifier, notifier_resources = build_notifier(settings)
        self.resources: list[Any] = [*relay_resources, *notifier_resources]

    def deliver_until(self, done: Callable[[], bool], timeout: float = 30.0) -> None:
        """Relay and deliver, step by step, until `done()` (when the count is not known)."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "not delivered in time"
            self.relay.catch_up()
            self.notifier.run_once(0.2)

    def run(self, timeout: float = 30.0) -> int:
        """Relay everything recorded, then deliver it; return how many messages were handled."""
        self.relay.catch_up()
        relay = self.relay.read_model
        assert isinstance(relay, Relay)
        before, deadline = self.notifier.handled, time.monotonic() + timeout
        while self.notifier.handled < relay.published:
            assert time.monotonic() < deadline, "the notifier did not get every message"
            self.notifier.run_once(0.2)
        return self.notifier.handled - before

    def close(self) -> None:
        for resource in self.resources:
            resource.close()


_RUNNING: dict[int, LocalDelivery] = {}


def deliver(container: Container) -> int:
    """Relay and deliver every message of this container's event store so far."""
    delivery = _RUNNING.get(id(container))
    if delivery is None:
        delivery = _RUNNING[id(container)] = LocalDelivery(container.settings)
    return delivery.run()


def stop_delivery(container: Container) -> None:
    delivery = _RUNNING.pop(id(container), None)
    if delivery is not None:
        delivery.close()


def redeliver_dead_letters(settings: Settings, idle: float) -> dict[str, int]:
    """`clinic notify --retry-dead-letters` once: the dead-letter topic handled again until
    it has been quiet for `idle` seconds; the notifier's outcomes counted."""
    retrying, resources = build_kafka_notifier(settings, dead_letters=True)
    try:
        return retrying.redeliver_all(idle=idle)
    finally:
        for resource in resources:
            resource.close()


def relayed(container: Container) -> tuple[list[tuple[str, dict[str, Any]]], LocalSink]:
    """Relay the log to the local sink; every message there, decoded, and the sink."""
    relay, resources = build_relay(container.settings)
    try:
        relay.catch_up()
    finally:
        for resource in resources:
            resource.close()
    sink = LocalSink(container.settings.resolved_data_dir() / "sink" / "messages.jsonl")
    return [AvroCodec().decode(message.value) for message in sink.read_back(1000)], sink
