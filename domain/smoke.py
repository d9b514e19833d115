"""A trivial aggregate that proves the event store round trip (foundation only).

Remove once real aggregates exist (issue: clinics, providers, availability).
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event


class Smoke(Aggregate):
    @event("Created")
    def __init__(self, note: str) -> None:
        self.note = note
        self.pings = 0

    @event("Pinged")
    def ping(self) -> None:
        self.pings += 1
