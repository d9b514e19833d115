"""The event store's many-stream read and the use cases' outcome counters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent


class CommandMetrics(Protocol):
    """Outcome counters (infra/observability): ids and outcome names, never PHI."""

    def booking(self, outcome: str) -> None:
        """booked, conflict or rejected."""

    def booking_conflict(self, command: str) -> None:
        """book or reschedule lost a race (slot-taken)."""

    def sign_in_refused(self, reason: str) -> None:
        """wrong or expired."""


class ReadsManyStreams(ABC):
    """A recorder that reads several aggregates' events in one round trip
    (infra.eventstore.recorder.SingleTripRecorder). An ABC, not a runtime-checkable
    Protocol: the check runs on every booking, and a Protocol's isinstance inspects every
    member."""

    @abstractmethod
    def select_events_of(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]: ...
