"""Checking one source row at three levels before anything is applied (decision 0048):
shape (the row model, then the command model it becomes), references (what it names exists,
or is a good row of the same run) and rules (the domain's own refusals; durations on the
hours' grid). A row that may add hours (and, in a dry run or before all-or-nothing, every
row) is then decided on the aggregates in memory by the use case that will apply it, so that
overlapping hours and stranded visits are found before anything is recorded (decision 0067).
A refusal is a list of RowRejects, one per reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from commands.context import Actor
from commands.directory import Directory
from commands.ingest.apply import (
    Applier,
    Outcome,
    ingest_id,
    wanted_clinic,
    wanted_provider,
    wanted_service,
)
from commands.ingest.errors import DurationOffGridError, UnknownReferenceError
from commands.ingest.rehearsal import Rehearsal
from commands.ingest.rejects import shape_rejects, value_text
from commands.ingest.rows import (
    ROW_MODELS,
    ClinicRow,
    HoursRow,
    Kind,
    ProviderRow,
    Row,
    ServiceRow,
    SourceRow,
    TimeOffRow,
)
from commands.models import AvailabilityIn, ProviderCreate, ServiceCreate, Weekly
from commands.ports import RowReject
from domain.errors import DomainError
from domain.providers import Provider
from domain.schedules import Schedule
from domain.services import Service


@dataclass(frozen=True)
class Checked:
    """A row that passed its checks: its external id, our id, and how to apply it."""

    kind: Kind
    key: str
    id: UUID
    apply: Callable[[Applier], Outcome]
    adds_hours: bool = False  # hours, extra hours: may overlap the provider's elsewhere
    outcome: Outcome = Outcome.applied  # as decided in memory (what a dry run reports)


class Checker:
    """Checks the rows of one run; remembers the good ones so that later rows of the same
    run may name them (a Bundle's Practitioner names its Locations). `rehearse_all`: every
    row is decided in memory, on top of the rows before it (a dry run, all-or-nothing)."""

    def __init__(self, directory: Directory, source: str, actor: Actor,
                 rehearse_all: bool = False) -> None:
        self.app, self.source, self.rehearse_all = directory.app, source, rehearse_all
        self.planned: dict[UUID, Any] = {}  # our id -> the command of a good row
        self.recorded: set[UUID] = set()  # ids found in the store (nothing is ever deleted)
        self.rehearsal = Rehearsal(directory.app)
        self.trial = Applier(Directory(self.rehearsal, directory.no_show_rule), actor)

    def check(self, raw: SourceRow) -> Checked | list[RowReject]:
        if raw.defect is not None:
            return [RowReject(raw.number, "", "", raw.defect_rule, raw.defect)]
        try:
            row = ROW_MODELS[raw.kind].model_validate(dict(raw.values))
            return self._decided(self._resolve(raw.kind, row))
        except ValidationError as exc:
            return shape_rejects(raw.number, exc, raw.values)
        except DomainError as exc:
            column, value = getattr(exc, "column", ""), getattr(exc, "value", "")
            return [RowReject(raw.number, column, value_text(value), exc.code, exc.detail)]

    def forget(self, checked: Checked) -> None:
        """A row refused when applied: later rows may not count on it."""
        self.planned.pop(checked.id, None)

    def settle(self) -> None:
        """A row was applied (or refused) for real: the store holds the truth again."""
        self.rehearsal.clear()

    def _decided(self, checked: Checked) -> Checked:
        """The row applied in memory by its own use case (its refusal raised here), when it
        may add hours or the run must know every refusal before applying anything."""
        if not (self.rehearse_all or checked.adds_hours):
            return checked
        try:
            return replace(checked, outcome=checked.apply(self.trial))
        except DomainError:
            self.forget(checked)
            raise

    def _resolve(self, kind: Kind, row: Row) -> Checked:
        if isinstance(row, ClinicRow):
            clinic = row.command()
            wanted_clinic(clinic)
            return self._plan(kind, row.key, clinic, lambda a, i: a.clinic(i, clinic))
        if isinstance(row, ServiceRow):
            service = row.command()
            wanted_service(service)
            return self._plan(kind, row.key, service, lambda a, i: a.service(i, service))
        if isinstance(row, ProviderRow):
            provider = ProviderCreate(display_name=row.display_name,
                                      clinic_ids=self._named(Kind.clinics, "clinics",
                                                             row.clinics),
                                      service_ids=self._named(Kind.services, "services",
                                                              row.services))
            wanted_provider(provider)
            return self._plan(kind, row.key, provider, lambda a, i: a.provider(i, provider))
        if isinstance(row, TimeOffRow):
            return self._time_off(row)
        assert isinstance(row, HoursRow)
        return self._hours(row)

    def _plan(self, kind: Kind, key: str, command: Any,
              apply: Callable[[Applier, UUID], Outcome]) -> Checked:
        our_id = ingest_id(self.source, kind.value, key)
        self.planned[our_id] = command
        return Checked(kind, key, our_id, lambda applier: apply(applier, our_id))

    def _hours(self, row: HoursRow) -> Checked:
        provider_id, = self._named(Kind.providers, "provider", [row.provider])
        clinic_id, = self._named(Kind.clinics, "clinic", [row.clinic])
        rules = row.command([]).to_domain()
        provider = self.planned.get(provider_id) or self.app.find(Provider, provider_id)
        assert isinstance(provider, ProviderCreate | Provider)
        if clinic_id not in provider.clinic_ids:
            raise UnknownReferenceError(f"provider {row.provider} does not work at clinic "
                                        f"{row.clinic}", "clinic", row.clinic)
        off_grid = sorted({d for d in self._durations(provider.service_ids)
                           if d % rules.granularity_minutes})
        if off_grid:
            raise DurationOffGridError(
                f"the provider's visits of {', '.join(map(str, off_grid))} minutes do not "
                f"fill whole {rules.granularity_minutes}-minute steps", "granularity_minutes",
                str(rules.granularity_minutes))
        schedule_id = Schedule.create_id(provider_id, clinic_id)
        self.planned[schedule_id] = rules
        return Checked(Kind.hours, row.key, schedule_id,
                       lambda applier: applier.hours(provider_id, clinic_id, row.command),
                       adds_hours=True)

    def _time_off(self, row: TimeOffRow) -> Checked:
        provider_id, = self._named(Kind.providers, "provider", [row.provider])
        clinic_id, = self._named(Kind.clinics, "clinic", [row.clinic])
        # The domain's own exception, or its refusal, up front (applied as it is, later).
        exception, = AvailabilityIn(weekly=Weekly(),
                                    exceptions=[row.exception()]).to_domain().exceptions
        schedule_id = Schedule.create_id(provider_id, clinic_id)
        if schedule_id not in self.planned and schedule_id not in self.recorded:
            if self.app.find(Schedule, schedule_id) is None:
                raise UnknownReferenceError(f"provider {row.provider} has no hours at clinic "
                                            f"{row.clinic} (publish them first, or in the "
                                            "same run)", "provider", row.provider)
            self.recorded.add(schedule_id)
        return Checked(Kind.time_off, row.key, ingest_id(self.source, "time_off", row.key),
                       lambda applier: applier.dated(provider_id, clinic_id, row.date,
                                                     exception),
                       adds_hours=row.kind == "extra")

    def retired_time_off(self, key: str) -> Callable[[Applier], Outcome]:
        """How to take back the exception a time-off key (`provider@clinic/date`) brought
        in. External ids may hold `@` themselves: the split that names a schedule of this
        source is the one meant."""
        people, _, day = key.rpartition("/")
        on = date.fromisoformat(day)
        for at in (i for i, c in enumerate(people) if c == "@"):
            provider_id = ingest_id(self.source, Kind.providers.value, people[:at])
            clinic_id = ingest_id(self.source, Kind.clinics.value, people[at + 1:])
            if self.app.find(Schedule, Schedule.create_id(provider_id, clinic_id)) is not None:
                return lambda applier: applier.dated(provider_id, clinic_id, on, None)
        return lambda applier: Outcome.unchanged  # the hours are gone: nothing to take back


    def _named(self, kind: Kind, column: str, external_ids: list[str]) -> list[UUID]:
        """Our ids of the records a row names; each must exist or be planned in this run."""
        ids = {ingest_id(self.source, kind.value, ext): ext for ext in external_ids}
        unknown = [i for i in ids if i not in self.planned and i not in self.recorded]
        self.recorded |= set(self.app.get_many(*unknown)) if unknown else set()
        for our_id, ext in ids.items():
            if our_id not in self.planned and our_id not in self.recorded:
                raise UnknownReferenceError(f"no {kind.value[:-1]} '{ext}' from this source, "
                                            "neither recorded nor in this run", column, ext)
        return list(ids)

    def _durations(self, service_ids: list[UUID]) -> set[int]:
        planned = {self.planned[i].duration_minutes for i in service_ids
                   if isinstance(self.planned.get(i), ServiceCreate)}
        stored = self.app.get_many(*(i for i in service_ids if i not in self.planned))
        return planned | {s.duration_minutes for s in stored.values() if isinstance(s, Service)}
