"""What the write side asks of the outside world."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class BookedTimes(Protocol):
    def booked(self, provider_id: UUID, clinic_id: UUID, after: datetime
               ) -> list[tuple[datetime, datetime]]:
        """Booked visits of a provider at a clinic that end after `after` (UTC)."""
