"""Providers' calendars: the days a visit covers, and reading them for a decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from commands.application import ClinicApplication
from domain.availability import MAX_BUFFER_MINUTES
from domain.calendars import ProviderCalendar, calendar_days

MAX_BUFFER = timedelta(minutes=MAX_BUFFER_MINUTES)  # the furthest a visit's buffers reach


def days_of(provider_id: UUID, start: datetime, end: datetime) -> dict[UUID, str]:
    """The provider's calendar ids over [start, end), with their UTC days."""
    return {ProviderCalendar.create_id(provider_id, day.isoformat()): day.isoformat()
            for day in calendar_days(start, end)}


def around(provider_id: UUID, start: datetime, end: datetime) -> dict[UUID, str]:
    """Every calendar that can hold a visit [start, end) whatever its buffers."""
    return days_of(provider_id, start - MAX_BUFFER, end + MAX_BUFFER)


def holding(loaded: dict[UUID, Any], appointment_id: UUID) -> list[ProviderCalendar]:
    """The calendars among `loaded` (read `around` the visit) that hold its reservation."""
    return [calendar for calendar in loaded.values()
            if isinstance(calendar, ProviderCalendar) and appointment_id in calendar.reservations]


def moved(app: ClinicApplication, loaded: dict[UUID, Any], appointment_id: UUID,
          provider_id: UUID, start: datetime, end: datetime, clinic_id: UUID,
          before: timedelta, after: timedelta) -> list[ProviderCalendar]:
    """A visit leaves the calendars that hold it (among `loaded`, read `around` both times)
    and takes those of `provider_id` over [start - before, end + after): each calendar
    once, as one calendar can be both. For a reschedule or a hand-off; the caller saves."""
    touched = {calendar.id: calendar for calendar in holding(loaded, appointment_id)}
    for calendar in touched.values():
        calendar.release(appointment_id)
    for calendar in calendars(app, provider_id, days_of(provider_id, start - before,
                                                        end + after), loaded):
        touched.setdefault(calendar.id, calendar).reserve(appointment_id, start, end,
                                                          clinic_id, before, after)
    return list(touched.values())


def calendars(app: ClinicApplication, provider_id: UUID, days: dict[UUID, str],
              loaded: dict[UUID, Any] | None = None) -> list[ProviderCalendar]:
    """The provider's calendars of these days (opened where none exists yet), from `loaded`
    or read now in one query."""
    if loaded is None:
        loaded = app.get_many(*days)
    return [calendar if (calendar := loaded.get(calendar_id)) is not None
            else ProviderCalendar(provider_id=provider_id, day=day)
            for calendar_id, day in days.items()]


def provider_days(provider_id: UUID, after: datetime, days: int) -> dict[UUID, str]:
    """The provider's calendars from the UTC day before `after` to `days` + 2 days after it."""
    first = after.astimezone(UTC).date()
    return {ProviderCalendar.create_id(provider_id, day.isoformat()): day.isoformat()
            for day in (first + timedelta(days=n) for n in range(-1, days + 2))}


def booked_at(loaded: dict[UUID, Any], clinic_id: UUID,
              after: datetime) -> list[tuple[datetime, datetime]]:
    """Live bookings at a clinic ending after `after`, among the calendars `loaded` (the event
    store, not a read model: a rule change must see every booking)."""
    booked: list[tuple[datetime, datetime]] = []
    for calendar in loaded.values():
        if not isinstance(calendar, ProviderCalendar):
            continue
        for held in calendar.reservations.values():
            if held.clinic_id == clinic_id and held.end > after and \
                    (held.start, held.end) not in booked:
                booked.append((held.start, held.end))
    return sorted(booked)
