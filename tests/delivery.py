"""The message path of the embedded default, run in the test's own thread: the relay to the
local sink, then the notifier from it into the development mailbox (`clinic demo` runs the
same two as background workers)."""

from __future__ import annotations

from typing import Any

from infra.container import Container
from infra.notify.build import build_local_notifier
from infra.relay import build_relay
from infra.settings import Settings


class LocalDelivery:
    def __init__(self, settings: Settings) -> None:
        self.relay, relay_resources = build_relay(settings)
        self.notifier, notifier_resources = build_local_notifier(settings)
        self.resources: list[Any] = [*relay_resources, *notifier_resources]

    def run(self) -> int:
        """Relay everything recorded, then deliver it; return how many messages were handled."""
        self.relay.catch_up()
        return self.notifier.drain()

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
