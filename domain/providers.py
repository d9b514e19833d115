"""Provider (FHIR Practitioner): who sees patients, at which clinics, for which services."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolationError
from domain.text import plain_text


class InvalidProviderError(RuleViolationError):
    code = "invalid-provider"


def _checked(display_name: str, clinic_ids: list[UUID], service_ids: list[UUID]
             ) -> tuple[str, list[UUID], list[UUID]]:
    if not plain_text(display_name, "the display name").strip():
        raise InvalidProviderError("a provider needs a display name")
    if not clinic_ids:
        raise InvalidProviderError("a provider works at one clinic at least")
    if not service_ids:
        raise InvalidProviderError("a provider offers one service at least")
    return display_name.strip(), sorted(set(clinic_ids)), sorted(set(service_ids))


class Provider(Aggregate):
    class Registered(Aggregate.Created):
        display_name: str
        clinic_ids: list[UUID]
        service_ids: list[UUID]

    class Revised(Aggregate.Event):
        display_name: str
        clinic_ids: list[UUID]
        service_ids: list[UUID]

    @classmethod
    def register(cls, display_name: str, clinic_ids: list[UUID],
                 service_ids: list[UUID], id: UUID | None = None) -> Provider:
        return cls(*_checked(display_name, clinic_ids, service_ids), id=id)

    @event(Registered)
    def __init__(self, display_name: str, clinic_ids: list[UUID],
                 service_ids: list[UUID], id: UUID | None = None) -> None:
        self.display_name = display_name
        self.clinic_ids = clinic_ids
        self.service_ids = service_ids

    def revise(self, display_name: str, clinic_ids: list[UUID],
               service_ids: list[UUID]) -> None:
        self._revised(*_checked(display_name, clinic_ids, service_ids))

    @event(Revised)
    def _revised(self, display_name: str, clinic_ids: list[UUID],
                 service_ids: list[UUID]) -> None:
        self.display_name = display_name
        self.clinic_ids = clinic_ids
        self.service_ids = service_ids

    def works_at(self, clinic_id: UUID) -> bool:
        return clinic_id in self.clinic_ids

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "display_name": self.display_name,
                "clinic_ids": self.clinic_ids, "service_ids": self.service_ids}
