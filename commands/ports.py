"""What the write side asks of the outside world."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent


class CodeCheck(StrEnum):
    accepted = "accepted"
    wrong = "wrong"
    expired = "expired"  # unknown, expired, used, or locked after too many wrong tries


class OneTimeCodes(Protocol):
    """Six-digit email codes: single use, short-lived, stored hashed, few tries."""

    def issue(self, subject: UUID) -> str: ...
    def check(self, subject: UUID, code: str) -> CodeCheck: ...
    def revoke(self, subject: UUID) -> None:
        """Forget any outstanding code (sign-out everywhere, erasure)."""


@dataclass(frozen=True)
class SlotInfo:
    slot_id: UUID
    provider_id: UUID
    clinic_id: UUID
    service_id: UUID
    modality: str
    start: datetime
    end: datetime
    book_by: datetime


class SlotCatalog(Protocol):
    def slot(self, slot_id: UUID) -> SlotInfo | None:
        """A slot the search offered (open or not), or None if no such slot exists."""


@dataclass(frozen=True)
class Hold:
    hold_id: UUID
    slot_id: UUID
    holder: str
    expires_at: datetime


class HoldLimitError(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many holds")
        self.retry_after = retry_after


class Holds(Protocol):
    def place(self, slot_id: UUID, holder: str, secret: str, ttl_ms: int,
              max_per_holder: int) -> Hold | None:
        """Hold a slot (None if someone holds it); HoldLimitError past the holder's limit."""

    def holding(self, slot_id: UUID) -> tuple[Hold, str] | None:
        """The current hold on a slot and its secret's hash."""

    def release(self, slot_id: UUID, hold_id: UUID) -> None: ...

    def release_all(self, holder: str) -> int:
        """Release every hold of one holder (erasure); returns how many."""


class PersonalDataKeys(Protocol):
    """Each patient's PHI is sealed with a key of their own (infra/crypto)."""

    def shred(self, subject: UUID) -> None:
        """Destroy the patient's key: their PHI becomes unreadable everywhere, for good."""

    def close(self) -> None: ...


class ReadsManyStreams(ABC):
    """A recorder that reads several aggregates' events in one round trip
    (infra.eventstore.SingleTripRecorder). An ABC, not a runtime-checkable Protocol: the
    check runs on every booking, and a Protocol's isinstance inspects every member."""

    @abstractmethod
    def select_events_of(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]: ...
