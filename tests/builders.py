"""Test data builders: a small clinic world created through the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from commands.ports import SlotInfo
from domain.availability import WEEKDAYS as EVERY_DAY
from domain.availability import AvailabilityRules
from domain.clinics import Address
from domain.local_time import local_day
from domain.modality import Modality
from domain.slots import slot_id, slot_times
from tests.driver import ClinicDriver

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
NINE_TO_FIVE = {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in WEEKDAYS}
ALL_DAY = {d: [["00:00", "24:00"]] for d in EVERY_DAY}


@dataclass
class World:
    clinic: UUID
    second_clinic: UUID
    checkup: UUID
    video: UUID
    provider: UUID
    second_provider: UUID


def rules(weekly: dict[str, list[list[str]]] | None = None, **options: int) -> AvailabilityRules:
    return AvailabilityRules.from_dict({"weekly": weekly or NINE_TO_FIVE, **options})


def build_world(app: ClinicDriver, *, horizon_days: int = 14) -> World:
    clinic = app.register_clinic("Harbor", Address("1 Main St", "Boston", "MA", "02110"),
                                 "America/New_York", [Modality.in_person, Modality.telehealth])
    second = app.register_clinic("Lakeside", Address("2 Lake St", "Chicago", "IL", "60601"),
                                 "America/Chicago", [Modality.in_person])
    checkup = app.register_service("Checkup", 30, Modality.in_person)
    video = app.register_service("Video visit", 20, Modality.telehealth)
    provider = app.register_provider("Dr. One", [clinic, second], [checkup, video])
    other = app.register_provider("Dr. Two", [second], [checkup])
    app.publish_availability(provider, clinic, rules(horizon_days=horizon_days))
    app.publish_availability(provider, second, rules(
        {"saturday": [["10:00", "14:00"]]}, horizon_days=horizon_days))
    app.publish_availability(other, second, rules(horizon_days=horizon_days))
    return World(clinic, second, checkup, video, provider, other)


def slot_at(app: ClinicDriver, provider: UUID, clinic: UUID, service: UUID,
            start: datetime) -> SlotInfo:
    """The slot at `start` as slot search lists it (the booking checks it against the rules)."""
    schedule = app.use_cases.directory.schedule(provider, clinic)
    offered = app.service(service)
    return SlotInfo(slot_id(schedule.id, service, start), provider, clinic, service,
                    offered.modality, start, start + timedelta(minutes=offered.duration_minutes),
                    start - timedelta(minutes=schedule.rules.min_notice_minutes))


def first_slot(app: ClinicDriver, provider: UUID, clinic: UUID, service: UUID,
               after: datetime) -> SlotInfo:
    """The first slot the provider's rules offer that starts at or after `after`."""
    rules = app.use_cases.directory.schedule(provider, clinic).rules
    zone = ZoneInfo(app.clinic(clinic).time_zone)
    minutes = app.service(service).duration_minutes
    first = local_day(after, zone)
    for n in range(rules.horizon_days + 1):
        for time in slot_times(rules, zone, minutes, [first + timedelta(days=n)]):
            if time.start >= after:
                return slot_at(app, provider, clinic, service, time.start)
    raise AssertionError(f"no slot offered after {after.isoformat()}")
