"""The active waitlist as the offer matcher reads it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.slots import Slot


class WaitlistBoard(Protocol):
    """The active waitlist as the read model has it (infra/postgres/waitlist.py); the entries
    themselves decide, so a lagging row costs a look, never a wrong offer."""

    def in_line_for(self, freed: Slot, passed_over: Collection[UUID],
                    limit: int) -> list[UUID]:
        """Waiting entries whose constraints the freed time meets, in offer order
        (domain/waitlist.py: in_line), less those `passed_over`."""

    def offered_on(self, slot_id: UUID) -> list[UUID]:
        """Entries with an open offer of this slot."""

    def waiting_at(self, provider_id: UUID, clinic_id: UUID, service_ids: Collection[UUID],
                   joined_before: datetime, limit: int) -> list[UUID]:
        """Entries waiting since before `joined_before` that a time of this provider at
        this clinic (of one of these services) could suit, in offer order."""
