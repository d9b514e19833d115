"""Service (FHIR HealthcareService): a kind of visit, how long it takes, how it happens."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolationError
from domain.modality import Modality
from domain.text import plain_text

MIN_DURATION, MAX_DURATION = 5, 480


class InvalidServiceError(RuleViolationError):
    code = "invalid-service"


def _checked(name: str, duration_minutes: int) -> str:
    if not plain_text(name, "the service name").strip():
        raise InvalidServiceError("a service needs a name")
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise InvalidServiceError(
            f"a visit lasts between {MIN_DURATION} and {MAX_DURATION} minutes"
        )
    return name.strip()


class Service(Aggregate):
    class Registered(Aggregate.Created):
        name: str
        duration_minutes: int
        modality: str

    class Revised(Aggregate.Event):
        name: str
        duration_minutes: int
        modality: str

    @classmethod
    def register(cls, name: str, duration_minutes: int, modality: Modality,
                 id: UUID | None = None) -> Service:
        return cls(_checked(name, duration_minutes), duration_minutes, modality.value, id=id)

    @event(Registered)
    def __init__(self, name: str, duration_minutes: int, modality: str,
                 id: UUID | None = None) -> None:
        self.name = name
        self.duration_minutes = duration_minutes
        self.modality = modality

    def revise(self, name: str, duration_minutes: int, modality: Modality) -> None:
        self._revised(_checked(name, duration_minutes), duration_minutes, modality.value)

    @event(Revised)
    def _revised(self, name: str, duration_minutes: int, modality: str) -> None:
        self.name = name
        self.duration_minutes = duration_minutes
        self.modality = modality

    @property
    def modality_enum(self) -> Modality:
        return Modality(self.modality)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "duration_minutes": self.duration_minutes,
                "modality": self.modality}
