"""Appointment look-ups: one appointment, a patient's list, a provider's day."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.errors import NotFoundError
from domain.record_access import (
    Caller,
    HiddenRecordError,
    clinics_in_reach,
    may_see_appointment,
    require_own_schedule,
    require_patients_list,
)
from queries.db import ReadPool, fetch_all

_SELECT = """
SELECT a.appointment_id AS id, a.patient_id, a.provider_id, a.clinic_id, a.service_id,
       a.slot_id, a.start_at AS start, a.end_at AS "end", a.modality, a.status,
       a.late_cancellation, a.reschedule_count, a.reason, a.booked_at,
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
    return _with_local_start(await fetch_all(pool, _SELECT + """WHERE a.patient_id = %(p)s
        AND (%(v)s::uuid IS NULL OR a.provider_id = %(v)s)
        AND (%(c)s::uuid[] IS NULL OR a.clinic_id = ANY(%(c)s)) ORDER BY a.start_at""",
        {"p": patient_id, "v": provider_id, "c": _ids(clinics)}))


async def provider_day(pool: ReadPool, provider_id: UUID, day: date,
                       clinics: frozenset[UUID] | None = None) -> list[dict[str, Any]]:
    """A provider's appointments on a clinic-local date, all clinics (or these), by start."""
    return _with_local_start(await fetch_all(pool, _SELECT + """WHERE a.provider_id = %(p)s
        AND a.start_at >= (%(d)s::date - 1) AND a.start_at < (%(d)s::date + 2)
        AND (a.start_at AT TIME ZONE c.time_zone)::date = %(d)s
        AND (%(c)s::uuid[] IS NULL OR a.clinic_id = ANY(%(c)s))
        ORDER BY a.start_at""", {"p": provider_id, "d": day, "c": _ids(clinics)}))


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
    return await provider_day(pool, provider_id, day, clinics_in_reach(caller))


def _with_local_start(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The start in the clinic's zone, with its UTC offset (an RFC 3339 date-time, as in
    slot search); a bare local wall time would not say which instant it means."""
    for row in rows:
        row["clinic_local_start"] = row["start"].astimezone(ZoneInfo(row["clinic_time_zone"]))
    return rows
