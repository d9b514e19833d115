"""The booking engine's event-sourced application: use cases that load, decide and save."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from domain.errors import NotFoundError
from domain.smoke import Smoke


class ClinicApplication(Application[UUID]):
    name = "clinic"

    def start_smoke(self, note: str) -> UUID:
        smoke = Smoke(note)
        self.save(smoke)
        return smoke.id

    def ping_smoke(self, smoke_id: UUID) -> int:
        smoke = self._get_smoke(smoke_id)
        smoke.ping()
        self.save(smoke)
        return smoke.pings

    def _get_smoke(self, smoke_id: UUID) -> Smoke:
        try:
            return self.repository.get(smoke_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"smoke {smoke_id} not found") from None
