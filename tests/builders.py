"""Test data builders: a small clinic world created through the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.availability import AvailabilityRules
from domain.clinics import Address
from domain.modality import Modality
from tests.driver import ClinicDriver

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
NINE_TO_FIVE = {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in WEEKDAYS}


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
