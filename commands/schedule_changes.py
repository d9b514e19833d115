"""What a change of a provider's hours must respect, and what it writes besides the schedule:
in-person hours at one clinic at a time, and the calendars of the days that lose hours,
checked against their booked visits (decision 0037; commands/directory.py publishes)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from commands.application import ClinicApplication
from commands.calendars import booked_at, calendars, days_of, provider_days
from domain.availability import AvailabilityRules
from domain.calendars import ProviderCalendar
from domain.clinics import Clinic, valid_time_zone
from domain.local_time import local_day
from domain.modality import Modality
from domain.providers import Provider
from domain.schedules import OverlappingClinicHoursError, Schedule, first_overlap, hours_removed
from domain.services import Service


def require_one_place_at_a_time(app: ClinicApplication, provider: Provider,
                                clinic: Clinic, rules: AvailabilityRules) -> None:
    """In-person hours at two clinics may not overlap: the provider cannot be in both.
    (Two changes racing at two clinics are not serialized: rare admin work.)"""
    others = [c for c in provider.clinic_ids if c != clinic.id]
    if not others or not clinic.offers(Modality.in_person):
        return
    loaded = app.get_many(*provider.service_ids, *others,
                          *(Schedule.create_id(provider.id, c) for c in others))
    if not any(isinstance(s, Service) and s.modality == Modality.in_person.value
               for s in loaded.values()):
        return  # a provider of video visits only works from anywhere
    zone, now = valid_time_zone(clinic.time_zone), datetime.now(UTC)
    for other_id in others:
        other = loaded.get(other_id)
        schedule = loaded.get(Schedule.create_id(provider.id, other_id))
        if not isinstance(other, Clinic) or not isinstance(schedule, Schedule) or \
                not other.offers(Modality.in_person):
            continue
        days = max(rules.horizon_days, schedule.rules.horizon_days)
        met = first_overlap(rules, zone, schedule.rules, valid_time_zone(other.time_zone),
                            now, days)
        if met is not None:
            day, interval = met
            raise OverlappingClinicHoursError(
                f"these hours overlap the provider's in-person hours at {other.name}: "
                f"{day:%A %Y-%m-%d} {interval.as_pair()[0]}-{interval.as_pair()[1]} "
                "there; change those first")


def calendars_losing_hours(app: ClinicApplication, schedule: Schedule,
                           rules: AvailabilityRules, clinic: Clinic, now: datetime
                           ) -> list[ProviderCalendar]:
    """Check the booked visits against the new rules; the calendars of the days that
    lose hours, marked as revised."""
    zone = valid_time_zone(clinic.time_zone)
    horizon = max(schedule.rules.horizon_days, rules.horizon_days)
    revised_days: dict[UUID, str] = {}
    for lo, hi in hours_removed(schedule.rules, rules, zone, local_day(now, zone), horizon):
        revised_days |= days_of(schedule.provider_id, lo, hi)
    loaded = app.get_many(*provider_days(schedule.provider_id, now, horizon), *revised_days)
    schedule.change_rules(rules, zone, booked_at(loaded, clinic.id, now))
    revised = calendars(app, schedule.provider_id, revised_days, loaded)
    for calendar in revised:
        calendar.revise_rules(schedule.id)
    return revised
