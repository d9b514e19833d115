"""Applying one checked row: compare the wanted state with the aggregate's, and call the
directory's use case only for a difference, so that the same input twice records nothing and
a changed row records exactly its change (decision 0047).

Ids are derived (uuid5 of source, kind and external id): two runs of one source racing to
create the same clinic meet on the event store's version check; the loser re-reads and
compares instead of creating a second aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from commands.context import Actor
from commands.directory import Directory
from commands.ingest.errors import TimeZoneFixedError
from commands.models import (
    AvailabilityIn,
    ClinicCreate,
    ClinicUpdate,
    ProviderCreate,
    ServiceCreate,
    Weekly,
)
from domain.availability import DateException
from domain.clinics import Clinic
from domain.errors import ConflictError
from domain.providers import Provider
from domain.schedules import Schedule
from domain.services import Service

INGEST_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:ingest")
MAX_ATTEMPTS = 5
A = TypeVar("A", bound=Aggregate)


class Outcome(StrEnum):
    applied = "applied"  # (or, in a dry run, would be)
    unchanged = "unchanged"


def ingest_id(source: str, kind: str, external_id: str) -> UUID:
    """Our id for a source's record: the same on every run, in every process."""
    return uuid5(INGEST_NAMESPACE, f"{source}/{kind}/{external_id}")


def wanted_clinic(command: ClinicCreate) -> dict[str, Any]:
    """The clinic as the domain would record it (names trimmed, modalities sorted); raises
    the domain's own refusal."""
    return state_of(Clinic.register(command.name, command.address.to_domain(),
                                    command.time_zone, command.modalities))


def wanted_service(command: ServiceCreate) -> dict[str, Any]:
    return state_of(Service.register(command.name, command.duration_minutes, command.modality))


def wanted_provider(command: ProviderCreate) -> dict[str, Any]:
    return state_of(Provider.register(command.display_name, command.clinic_ids,
                                      command.service_ids))


def state_of(aggregate: Any) -> dict[str, Any]:
    """A directory aggregate's recorded state, without its id."""
    return {k: v for k, v in aggregate.summary().items() if k != "id"}


class Applier:
    """Applies rows as one actor (`ingest:<source>`, the run id as request id), through the
    directory's use cases: over the event store, or over a Rehearsal that records nothing
    (a dry run, the checks before all-or-nothing: commands/ingest/rehearsal.py)."""

    def __init__(self, directory: Directory, actor: Actor) -> None:
        self.directory, self.actor = directory, actor

    def clinic(self, clinic_id: UUID, command: ClinicCreate) -> Outcome:
        wanted = wanted_clinic(command)
        update = ClinicUpdate(name=command.name, address=command.address,
                              modalities=command.modalities)
        return self._upsert(Clinic, clinic_id, wanted,
                            lambda: self.directory.register_clinic(command, self.actor,
                                                                   id=clinic_id),
                            lambda: self.directory.revise_clinic(clinic_id, update, self.actor))

    def service(self, service_id: UUID, command: ServiceCreate) -> Outcome:
        return self._upsert(Service, service_id, wanted_service(command),
                            lambda: self.directory.register_service(command, self.actor,
                                                                    id=service_id),
                            lambda: self.directory.revise_service(service_id, command,
                                                                  self.actor))

    def provider(self, provider_id: UUID, command: ProviderCreate) -> Outcome:
        return self._upsert(Provider, provider_id, wanted_provider(command),
                            lambda: self.directory.register_provider(command, self.actor,
                                                                     id=provider_id),
                            lambda: self.directory.revise_provider(provider_id, command,
                                                                   self.actor))

    def hours(self, provider_id: UUID, clinic_id: UUID,
              command: Callable[[list[dict[str, Any]]], AvailabilityIn]) -> Outcome:
        """`command` builds the hours around the dated exceptions already published (an
        hours row leaves them alone, also those recorded while it is saved). The use case
        compares on the schedule it saves (one read)."""
        changed = self.directory.publish_week(provider_id, clinic_id, command([]), self.actor)
        return Outcome.applied if changed else Outcome.unchanged

    def dated(self, provider_id: UUID, clinic_id: UUID, on: date,
              exception: DateException | None) -> Outcome:
        """One date's exception set (or, with None, removed) on the hours as they are when
        saved (refused, like any change, if it would strand booked visits)."""
        changed = self.directory.change_date(provider_id, clinic_id, on, exception, self.actor)
        return Outcome.applied if changed else Outcome.unchanged

    def retire_hours(self, schedule_id: UUID) -> Outcome:
        """No hours at all (refused, like any change, if it would strand booked visits)."""
        schedule = self.directory.app.find(Schedule, schedule_id)
        if schedule is None:
            return Outcome.unchanged
        rules = schedule.rules.as_dict()
        options = {k: v for k, v in rules.items() if k not in ("weekly", "exceptions")}
        return self.hours(schedule.provider_id, schedule.clinic_id,
                          lambda _: AvailabilityIn(weekly=Weekly(), **options))

    def _upsert(self, kind: type[A], aggregate_id: UUID, wanted: dict[str, Any],
                register: Callable[[], object], revise: Callable[[], object]) -> Outcome:
        for _attempt in range(MAX_ATTEMPTS):
            current = self.directory.app.find(kind, aggregate_id)
            if current is not None and state_of(current) == wanted:
                return Outcome.unchanged
            if current is not None and isinstance(current, Clinic) and \
                    current.time_zone != wanted["time_zone"]:
                raise TimeZoneFixedError(f"the clinic's time zone is {current.time_zone}; it "
                                         "cannot change (register a new clinic)")
            try:
                (register if current is None else revise)()
            except IntegrityError:
                continue  # another run wrote it meanwhile: re-read and compare
            return Outcome.applied
        raise ConflictError("the record kept changing meanwhile; run the ingestion again")
