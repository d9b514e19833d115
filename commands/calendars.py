"""Providers' calendars: the days a visit covers, and reading them for a decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from commands.application import ClinicApplication
from domain.calendars import ProviderCalendar, calendar_days


def days_of(provider_id: UUID, start: datetime, end: datetime) -> dict[UUID, str]:
    """The provider's calendar ids over [start, end), with their UTC days."""
    return {ProviderCalendar.create_id(provider_id, day.isoformat()): day.isoformat()
            for day in calendar_days(start, end)}


def calendars(app: ClinicApplication, provider_id: UUID, days: dict[UUID, str],
              loaded: dict[UUID, Any] | None = None) -> list[ProviderCalendar]:
    """The provider's calendars of these days (opened where none exists yet), from `loaded`
    or read now in one query."""
    if loaded is None:
        loaded = app.get_many(*days)
    return [calendar if (calendar := loaded.get(calendar_id)) is not None
            else ProviderCalendar(provider_id=provider_id, day=day)
            for calendar_id, day in days.items()]


def booked_at(app: ClinicApplication, provider_id: UUID, clinic_id: UUID, after: datetime,
              days: int) -> list[tuple[datetime, datetime]]:
    """Live bookings of a provider at a clinic ending after `after`, from the calendars
    (the event store, not a read model: a rule change must see every booking)."""
    first = after.astimezone(UTC).date()
    found = app.get_many(*(
        ProviderCalendar.create_id(provider_id, (first + timedelta(days=n)).isoformat())
        for n in range(days + 2)))
    booked: list[tuple[datetime, datetime]] = []
    for calendar in found.values():
        for start, end, clinic in calendar.reservations.values():
            if clinic == clinic_id and end > after and (start, end) not in booked:
                booked.append((start, end))
    return sorted(booked)
