"""Appointment look-ups: one appointment, a patient's list, a provider's day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.errors import NotFoundError
from domain.record_access import (
    Caller,
    HiddenRecordError,
    appointment_search_scope,
    clinics_in_reach,
    may_see_appointment,
    require_own_schedule,
    require_patients_list,
)
from queries.cursors import decode_cursor, encode_cursor, in_calendar
from queries.db import ReadPool, fetch_all

_SELECT = """
SELECT a.appointment_id AS id, a.patient_id, a.provider_id, a.clinic_id, a.service_id,
       a.slot_id, a.start_at AS start, a.end_at AS "end", a.modality, a.status,
       a.late_cancellation, a.reschedule_count, a.reason, a.booked_at, a.updated_at,
       a.version,
       CASE WHEN a.status = 'booked' AND a.release_minutes IS NOT NULL AND NOT a.confirmed
            THEN a.start_at - make_interval(mins => a.release_minutes) END AS confirm_by,
       c.time_zone AS clinic_time_zone, c.name AS clinic_name,
       p.display_name AS provider_name, v.name AS service_name
FROM appointments a
JOIN directory_clinics c ON c.clinic_id = a.clinic_id
JOIN directory_providers p ON p.provider_id = a.provider_id
JOIN directory_services v ON v.service_id = a.service_id
"""


async def get_appointment(pool: ReadPool, appointment_id: UUID) -> dict[str, Any]:
    rows = await fetch_all(pool, _SELECT + "WHERE a.appointment_id = %s", (appointment_id,))
    if not rows:
        raise NotFoundError(f"no appointment with id {appointment_id}")
    return _with_local_start(rows)[0]


async def patient_appointments(pool: ReadPool, patient_id: UUID,
                               provider_id: UUID | None = None,
                               clinics: frozenset[UUID] | None = None) -> list[dict[str, Any]]:
    """A patient's appointments, soonest first (only one provider's, for a provider; only
    some clinics', for staff of those clinics)."""
    return await _matching(pool, {"patient": patient_id, "provider": provider_id,
                                  "clinics": _ids(clinics)})


async def provider_day(pool: ReadPool, provider_id: UUID, day: date,
                       clinics: frozenset[UUID] | None = None) -> list[dict[str, Any]]:
    """A provider's appointments on a clinic-local date, all clinics (or these), by start."""
    midnight = datetime(day.year, day.month, day.day)
    return await _matching(pool, {
        "provider": provider_id, "clinics": _ids(clinics),
        # every zone's day lies within a day either side of the UTC one (the index's range)
        "start_from": midnight.replace(tzinfo=UTC) - timedelta(days=1),
        "start_to": midnight.replace(tzinfo=UTC) + timedelta(days=2),
        "local_from": midnight, "local_to": midnight + timedelta(days=1)})


@dataclass(frozen=True)
class AppointmentSearch:
    """The FHIR Appointment search (docs/fhir.md): `*_to` bounds exclusive; `local_*` are
    clinic-local wall-clock times (a date-only search)."""

    patient_id: UUID | None = None
    provider_id: UUID | None = None
    clinic_id: UUID | None = None
    ids: tuple[UUID, ...] | None = None  # `_id`: these appointments only
    start_from: datetime | None = None
    start_to: datetime | None = None
    local_from: datetime | None = None
    local_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    statuses: tuple[str, ...] | None = None
    limit: int = 100
    cursor: str | None = None


async def search_appointments(pool: ReadPool, caller: Caller, search: AppointmentSearch
                              ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the appointments the caller may see that match, by start; and the
    cursor of the next page, if any."""
    scope = appointment_search_scope(caller, search.patient_id, search.provider_id,
                                     search.clinic_id)
    after_start, after_id = decode_cursor(search.cursor) if search.cursor else (None, None)
    rows = await _matching(pool, {
        "patient": scope.patient_id, "provider": scope.provider_id,
        "clinic": search.clinic_id, "clinics": _ids(scope.clinics),
        "ids": list(search.ids) if search.ids is not None else None,
        "start_from": search.start_from, "start_to": search.start_to,
        "local_from": search.local_from, "local_to": search.local_to,
        "updated_from": search.updated_from, "updated_to": search.updated_to,
        "statuses": list(search.statuses) if search.statuses else None,
        "after_start": after_start, "after_id": after_id, "limit": search.limit + 1})
    page = rows[:search.limit]
    more = encode_cursor(page[-1]["start"], page[-1]["id"]) if len(rows) > len(page) else None
    return page, more


_CONDITIONS = (  # parameter -> condition; only the given ones are in the query
    ("patient", "a.patient_id = %(patient)s"),
    ("provider", "a.provider_id = %(provider)s"),
    ("clinic", "a.clinic_id = %(clinic)s"),
    ("clinics", "a.clinic_id = ANY(%(clinics)s)"),
    ("ids", "a.appointment_id = ANY(%(ids)s)"),
    ("start_from", "a.start_at >= %(start_from)s"),
    ("start_to", "a.start_at < %(start_to)s"),
    ("local_from", "(a.start_at AT TIME ZONE c.time_zone) >= %(local_from)s"),
    ("local_to", "(a.start_at AT TIME ZONE c.time_zone) < %(local_to)s"),
    ("updated_from", "a.updated_at >= %(updated_from)s"),
    ("updated_to", "a.updated_at < %(updated_to)s"),
    ("statuses", "a.status = ANY(%(statuses)s)"),
    ("after_start", "(a.start_at, a.appointment_id) > (%(after_start)s, %(after_id)s)"),
)


async def _matching(pool: ReadPool, params: dict[str, Any]) -> list[dict[str, Any]]:
    where = " AND ".join(condition for name, condition in _CONDITIONS
                         if params.get(name) is not None) or "true"
    limit = " LIMIT %(limit)s" if params.get("limit") else ""
    return _with_local_start(await fetch_all(
        pool, f"{_SELECT}WHERE {where} ORDER BY a.start_at, a.appointment_id{limit}", params))


def _ids(clinics: frozenset[UUID] | None) -> list[UUID] | None:
    return None if clinics is None else sorted(clinics)


async def read_appointment(pool: ReadPool, caller: Caller,
                           appointment_id: UUID) -> dict[str, Any]:
    """One appointment the caller may see (domain/record_access.py), reason still sealed."""
    row = await get_appointment(pool, appointment_id)
    if not may_see_appointment(caller, row["patient_id"], row["provider_id"],
                               row["clinic_id"]):
        raise HiddenRecordError(f"no appointment with id {appointment_id}")
    return row


async def read_patient_appointments(pool: ReadPool, caller: Caller,
                                    patient_id: UUID) -> list[dict[str, Any]]:
    """A patient's list as the caller may see it: a provider sees their visits only."""
    return await patient_appointments(pool, patient_id,
                                      require_patients_list(caller, patient_id),
                                      clinics_in_reach(caller))


async def read_provider_day(pool: ReadPool, caller: Caller, provider_id: UUID,
                            day: date) -> list[dict[str, Any]]:
    """A provider's day: providers see only their own; staff their clinics' part of it."""
    require_own_schedule(caller, provider_id)
    in_calendar("day", day)
    return await provider_day(pool, provider_id, day, clinics_in_reach(caller))


def _with_local_start(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The start in the clinic's zone, with its UTC offset (an RFC 3339 date-time, as in
    slot search); a bare local wall time would not say which instant it means."""
    for row in rows:
        row["clinic_local_start"] = row["start"].astimezone(ZoneInfo(row["clinic_time_zone"]))
    return rows
