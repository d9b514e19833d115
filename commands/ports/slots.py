"""The slots the search offers and the holds placed on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.slots import Slot


@dataclass(frozen=True)
class SlotInfo(Slot):
    """A slot as the catalogue knows it, until when it can be booked, and whether the search
    shows it booked already."""

    book_by: datetime
    taken: bool = False


class SlotCatalog(Protocol):
    def slot(self, slot_id: UUID) -> SlotInfo | None:
        """A slot the search offered (open or not), or None if no such slot exists."""

    def open_between(self, provider_id: UUID, clinic_id: UUID, service_id: UUID,
                     start_from: datetime, start_to: datetime, limit: int) -> list[SlotInfo]:
        """Slots the search offers as open, still bookable, starting in [from, to), soonest
        first (the read model: the booking decides)."""


@dataclass(frozen=True)
class Hold:
    hold_id: UUID
    slot_id: UUID
    holder: str
    expires_at: datetime


class HoldLimitReached(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many holds")
        self.retry_after = retry_after


class Holds(Protocol):
    def place(self, slot_id: UUID, holder: str, secret: str, ttl_ms: int,
              max_per_holder: int) -> Hold | None:
        """Hold a slot (None if someone holds it); HoldLimitReached past the holder's limit."""

    def holding(self, slot_id: UUID) -> tuple[Hold, str] | None:
        """The current hold on a slot and its secret's hash."""

    def release(self, slot_id: UUID, hold_id: UUID) -> None: ...

    def extend(self, slot_id: UUID, hold_id: UUID, ttl_ms: int,
               most: int) -> datetime | bool | None:
        """Keep the hold `ttl_ms` from now: its new expiry; None if it is gone, False once
        it was extended `most` times."""

    def release_all(self, holder: str) -> int:
        """Release every hold of one holder (erasure); returns how many."""
