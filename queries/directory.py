"""Directory look-ups for pickers: clinics, services, providers, their hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.errors import NotFoundError
from queries.db import ReadPool, fetch_all
from queries.models import AvailabilityPublic, ClinicPublic, ProviderPublic, ServicePublic


async def list_clinics(pool: ReadPool, state: str | None = None,
                       since: datetime | None = None) -> list[ClinicPublic]:
    """Every clinic (or those in one state of their address, or changed since), by name."""
    rows = await fetch_all(pool, """SELECT clinic_id AS id, name, address, time_zone, modalities
                         FROM directory_clinics
                         WHERE (%(state)s::text IS NULL OR address->>'state' = %(state)s)
                           AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)
                         ORDER BY name, clinic_id""", {"state": state, "since": since})
    return [ClinicPublic(**r) for r in rows]


async def clinic_states(pool: ReadPool) -> list[str]:
    """The states (of their addresses) the clinics are in."""
    rows = await fetch_all(pool, "SELECT DISTINCT address->>'state' AS state FROM "
                                 "directory_clinics ORDER BY 1")
    return [str(r["state"]) for r in rows]


async def get_clinic(pool: ReadPool, clinic_id: UUID) -> ClinicPublic:
    rows = await fetch_all(pool, """SELECT clinic_id AS id, name, address, time_zone, modalities
                         FROM directory_clinics WHERE clinic_id = %s""", (clinic_id,))
    return ClinicPublic(**_one(rows, "clinic", clinic_id))


async def list_services(pool: ReadPool) -> list[ServicePublic]:
    rows = await fetch_all(pool, """SELECT service_id AS id, name, duration_minutes, modality
                         FROM directory_services ORDER BY name, service_id""")
    return [ServicePublic(**r) for r in rows]


async def get_service(pool: ReadPool, service_id: UUID) -> ServicePublic:
    rows = await fetch_all(pool, """SELECT service_id AS id, name, duration_minutes, modality
                         FROM directory_services WHERE service_id = %s""", (service_id,))
    return ServicePublic(**_one(rows, "service", service_id))


async def list_providers(pool: ReadPool, clinic_id: UUID | None,
                   service_id: UUID | None) -> list[ProviderPublic]:
    rows = await fetch_all(pool, """SELECT provider_id AS id, display_name, clinic_ids, service_ids
        FROM directory_providers
        WHERE (%(c)s::uuid IS NULL OR %(c)s = ANY(clinic_ids))
          AND (%(s)s::uuid IS NULL OR %(s)s = ANY(service_ids))
        ORDER BY display_name, provider_id""", {"c": clinic_id, "s": service_id})
    return [ProviderPublic(**r) for r in rows]


async def get_provider(pool: ReadPool, provider_id: UUID) -> ProviderPublic:
    rows = await fetch_all(pool, """SELECT provider_id AS id, display_name, clinic_ids, service_ids
                         FROM directory_providers WHERE provider_id = %s""", (provider_id,))
    return ProviderPublic(**_one(rows, "provider", provider_id))


async def get_availability(pool: ReadPool, provider_id: UUID,
                     clinic_id: UUID) -> AvailabilityPublic:
    rows = await fetch_all(pool, """SELECT schedule_id, provider_id, clinic_id, rules
                         FROM availability_schedules WHERE provider_id = %s AND clinic_id = %s""",
                (provider_id, clinic_id))
    if not rows:
        raise NotFoundError(f"provider {provider_id} has no published hours at clinic {clinic_id}")
    return AvailabilityPublic(**rows[0])


def _one(rows: list[dict[str, Any]], label: str, given: UUID) -> dict[str, Any]:
    if not rows:
        raise NotFoundError(f"no {label} with id {given}")
    return rows[0]


async def get_availability_by_id(pool: ReadPool, schedule_id: UUID) -> AvailabilityPublic:
    rows = await fetch_all(pool, """SELECT schedule_id, provider_id, clinic_id, rules
                         FROM availability_schedules WHERE schedule_id = %s""", (schedule_id,))
    return AvailabilityPublic(**_one(rows, "schedule", schedule_id))


_CHANGED_SINCE = """(updated_at >= %(s)s OR provider_id IN (
    SELECT d.provider_id FROM directory_providers d WHERE d.updated_at >= %(s)s
    OR EXISTS (SELECT 1 FROM directory_services v
               WHERE v.service_id = ANY(d.service_ids) AND v.updated_at >= %(s)s)))"""


async def list_schedules(pool: ReadPool, provider_id: UUID | None,
                         clinic_id: UUID | None,
                         since: datetime | None = None) -> list[AvailabilityPublic]:
    """Published hours, by provider or clinic (each an index of its own), or changed since
    — their own rules, or the provider or a service they show (a FHIR Schedule carries
    the provider's name and services)."""
    where = [condition for condition, given in (("provider_id = %(p)s", provider_id),
                                                ("clinic_id = %(c)s", clinic_id),
                                                (_CHANGED_SINCE, since)) if given]
    rows = await fetch_all(pool, "SELECT schedule_id, provider_id, clinic_id, rules FROM "
                           "availability_schedules" + (" WHERE " + " AND ".join(where)
                                                        if where else "")
                           + " ORDER BY schedule_id",
                           {"p": provider_id, "c": clinic_id, "s": since})
    return [AvailabilityPublic(**r) for r in rows]
