"""The directory: clinics, services, providers and their published hours.

Changing hours checks the bookings in the calendars: a rule change may not strand a booked
visit. It is saved with the calendars of every day it takes hours from, so that a booking
that read the old hours and the change cannot both be saved (decision 0037).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import UUID

from commands.application import ClinicApplication, found
from commands.context import Actor, acting_as
from commands.models import (
    AvailabilityIn,
    ClinicCreate,
    ClinicUpdate,
    NoShowPolicyIn,
    NoShowPolicyPublic,
    ProviderCreate,
    ServiceCreate,
)
from commands.schedule_changes import calendars_losing_hours, require_one_place_at_a_time
from domain.agendas import NoShowRule
from domain.availability import AvailabilityRules, DateException
from domain.clinics import Clinic
from domain.errors import ConflictError, NotFoundError, RuleViolationError
from domain.providers import Provider
from domain.record_access import require_own_hours
from domain.schedules import Schedule
from domain.services import Service

MAX_ATTEMPTS = 5


class Directory:
    def __init__(self, app: ClinicApplication,
                 no_show_rule: NoShowRule | None = None) -> None:
        self.app = app
        self.no_show_rule = no_show_rule or NoShowRule()  # the deployment's default

    def register_clinic(self, command: ClinicCreate, actor: Actor,
                        id: UUID | None = None) -> Clinic:
        """A clinic with its IANA time zone and the modalities it offers."""
        with acting_as(actor.doing("clinic registration")):
            clinic = Clinic.register(command.name, command.address.to_domain(),
                                     command.time_zone, command.modalities, id=id)
            self.app.save(clinic)
        return clinic

    def revise_clinic(self, clinic_id: UUID, command: ClinicUpdate, actor: Actor) -> Clinic:
        """Name, address or modalities (the time zone is fixed)."""
        with acting_as(actor.doing("clinic change")):
            clinic = self.clinic(clinic_id)
            clinic.revise(command.name, command.address.to_domain(), command.modalities)
            self.app.save(clinic)
        return clinic

    def no_show_policy(self, clinic_id: UUID) -> NoShowPolicyPublic:
        """The rule the clinic's visits are booked under: its own, or the default."""
        rule = self.clinic(clinic_id).no_show_rule
        return NoShowPolicyPublic.of(clinic_id, rule or self.no_show_rule,
                                     "default" if rule is None else "clinic")

    def set_no_show_policy(self, clinic_id: UUID, command: NoShowPolicyIn | None,
                           actor: Actor) -> NoShowPolicyPublic:
        """The clinic's own no-show rule for bookings from now on; None: the default."""
        with acting_as(actor.doing("no-show policy change")):
            clinic = self.clinic(clinic_id)
            clinic.set_no_show_rule(None if command is None else command.to_domain())
            self.app.save(clinic)
        return self.no_show_policy(clinic_id)

    def register_service(self, command: ServiceCreate, actor: Actor,
                         id: UUID | None = None) -> Service:
        """A visit type: name, duration, in person or telehealth."""
        with acting_as(actor.doing("service registration")):
            service = Service.register(command.name, command.duration_minutes,
                                       command.modality, id=id)
            self.app.save(service)
        return service

    def revise_service(self, service_id: UUID, command: ServiceCreate,
                       actor: Actor) -> Service:
        """Open slots are cut anew."""
        with acting_as(actor.doing("service change")):
            service = self.service(service_id)
            service.revise(command.name, command.duration_minutes, command.modality)
            self.app.save(service)
        return service

    def register_provider(self, command: ProviderCreate, actor: Actor,
                          id: UUID | None = None) -> Provider:
        """With the clinics they work at and the services they offer."""
        with acting_as(actor.doing("provider registration")):
            self._require_all(command.clinic_ids, command.service_ids)
            provider = Provider.register(command.display_name, command.clinic_ids,
                                         command.service_ids, id=id)
            self.app.save(provider)
        return provider

    def revise_provider(self, provider_id: UUID, command: ProviderCreate,
                        actor: Actor) -> Provider:
        with acting_as(actor.doing("provider change")):
            provider = self.provider(provider_id)
            self._require_all(command.clinic_ids, command.service_ids)
            provider.revise(command.display_name, command.clinic_ids, command.service_ids)
            self.app.save(provider)
        return provider

    def publish_availability(self, provider_id: UUID, clinic_id: UUID,
                             command: AvailabilityIn, actor: Actor) -> Schedule:
        """A provider's hours at a clinic (admin, or the provider themself); refused if
        booked visits would be stranded."""
        rules = command.to_domain()
        return self._publish(provider_id, clinic_id, actor, lambda _current: rules)[0]

    def publish_week(self, provider_id: UUID, clinic_id: UUID, command: AvailabilityIn,
                     actor: Actor) -> bool:
        """The weekly hours and options of `command`, keeping the dated exceptions as they
        are when saved (an import of a week never undoes time off recorded meanwhile).
        False when the schedule had those hours already (nothing recorded)."""
        week = command.to_domain()

        def with_week(current: AvailabilityRules | None) -> AvailabilityRules:
            if current is None:
                return week
            rules = replace(week, exceptions=current.exceptions)
            return current if rules == current else rules

        return self._publish(provider_id, clinic_id, actor, with_week)[1]

    def change_date(self, provider_id: UUID, clinic_id: UUID, on: date,
                    exception: DateException | None, actor: Actor) -> bool:
        """One date's exception (time off, extra hours; None: the week again) on the hours
        as they are when saved: a concurrent change of the week or of another date stays.
        False when that date had this exception already (nothing recorded)."""

        def with_date(current: AvailabilityRules | None) -> AvailabilityRules:
            if current is None:
                raise NotFoundError(f"provider {provider_id} has no hours at clinic "
                                    f"{clinic_id} to make an exception to")
            return current.on_date(on, exception)

        return self._publish(provider_id, clinic_id, actor, with_date)[1]

    def _publish(self, provider_id: UUID, clinic_id: UUID, actor: Actor,
                 rules_for: Callable[[AvailabilityRules | None], AvailabilityRules]
                 ) -> tuple[Schedule, bool]:
        """The new rules are computed from the schedule as each attempt reads it, so that a
        retry after a concurrent change builds on that change instead of undoing it; and
        whether anything was recorded (`rules_for` answers the current rules themselves
        for "no change")."""
        require_own_hours(actor, provider_id)
        schedule_id = Schedule.create_id(provider_id, clinic_id)
        with acting_as(actor.doing("availability published")):
            loaded = self.app.get_many(provider_id, clinic_id, schedule_id)  # one read
            provider = found(loaded, Provider, provider_id, "provider")
            clinic = found(loaded, Clinic, clinic_id, "clinic")
            if not provider.works_at(clinic_id):
                raise RuleViolationError(
                    f"provider {provider_id} does not work at clinic {clinic_id}")
            for attempt in range(MAX_ATTEMPTS):
                schedule = loaded.get(schedule_id) if attempt == 0 \
                    else self.app.find(Schedule, schedule_id)
                current = schedule.rules if schedule is not None else None
                rules = rules_for(current)
                if schedule is not None and rules is current:
                    return schedule, False  # nothing to change
                require_one_place_at_a_time(self.app, provider, clinic, rules)
                if schedule is None:
                    schedule, revised = Schedule(provider_id=provider_id, clinic_id=clinic_id,
                                                 rules=rules.as_dict()), []
                else:
                    revised = calendars_losing_hours(self.app, schedule, rules, clinic,
                                                     datetime.now(UTC))
                if self.app.saved(schedule, *revised):
                    return schedule, True
        raise ConflictError("the provider's calendar changed meanwhile; please try again")

    def clinic(self, clinic_id: UUID) -> Clinic:
        return self.app.get(Clinic, clinic_id, "clinic")

    def service(self, service_id: UUID) -> Service:
        return self.app.get(Service, service_id, "service")

    def provider(self, provider_id: UUID) -> Provider:
        return self.app.get(Provider, provider_id, "provider")

    def schedule(self, provider_id: UUID, clinic_id: UUID) -> Schedule:
        return self.app.get(Schedule, Schedule.create_id(provider_id, clinic_id),
                            "availability")

    def _require_all(self, clinic_ids: list[UUID], service_ids: list[UUID]) -> None:
        for clinic_id in clinic_ids:
            self.clinic(clinic_id)
        for service_id in service_ids:
            self.service(service_id)
