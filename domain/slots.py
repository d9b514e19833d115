"""Cutting availability into bookable slots: the times a patient can pick, and whether a
provider's rules still offer one at the moment it is booked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from domain.availability import AvailabilityRules
from domain.errors import ConflictError
from domain.local_time import local_day, utc_ranges

SLOT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:slot")


class SlotUnavailableError(ConflictError):
    code = "slot-unavailable"


@dataclass(frozen=True)
class Slot:
    """One bookable time (FHIR Slot): which provider offers which service, where, when."""

    slot_id: UUID
    provider_id: UUID
    clinic_id: UUID
    service_id: UUID
    modality: str
    start: datetime
    end: datetime


@dataclass(frozen=True, order=True)
class SlotTime:
    start: datetime  # UTC
    end: datetime  # UTC


def slot_times(rules: AvailabilityRules, zone: ZoneInfo, duration_minutes: int,
               days: Iterable[date]) -> Iterator[SlotTime]:
    """Non-overlapping slots of one service, each wholly inside worked time (with buffers)."""
    duration = timedelta(minutes=duration_minutes)
    before = timedelta(minutes=rules.buffer_before_minutes)
    after = timedelta(minutes=rules.buffer_after_minutes)
    step = timedelta(minutes=rules.step_minutes(duration_minutes))
    for day in days:
        for interval in rules.working_intervals(day):
            for range_start, range_end in utc_ranges(day, interval, zone):
                start = range_start + before
                while start + duration + after <= range_end:
                    yield SlotTime(start, start + duration)
                    start += step


def slot_id(schedule_id: UUID, service_id: UUID, start: datetime) -> UUID:
    """Stable across rebuilds: the same schedule, service and start give the same id."""
    return uuid5(SLOT_NAMESPACE, f"{schedule_id}/{service_id}/{start.isoformat()}")


def require_offered(rules: AvailabilityRules, zone: ZoneInfo, duration_minutes: int,
                    start: datetime, end: datetime, now: datetime) -> None:
    """The write side's own check (decision 0037): the rules offer this visit now, on a
    bookable day, at one of the slot times they cut, with the minimum notice. Search results
    come from a read model that may lag the rules; a booking must not."""
    if start - timedelta(minutes=rules.min_notice_minutes) < now:
        raise SlotUnavailableError("that time can no longer be booked")
    day = local_day(start, zone)
    if day not in rules.bookable_days(local_day(now, zone)) or \
            SlotTime(start, end) not in slot_times(rules, zone, duration_minutes, [day]):
        raise SlotUnavailableError("the provider no longer offers that time")
