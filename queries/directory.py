"""Directory look-ups for pickers: clinics, services, providers, their hours."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.errors import NotFoundError
from queries.db import fetch_all
from queries.models import AvailabilityPublic, ClinicPublic, ProviderPublic, ServicePublic


def list_clinics(pool: ConnectionPool) -> list[ClinicPublic]:
    rows = fetch_all(pool, """SELECT clinic_id AS id, name, address, time_zone, modalities
                         FROM directory_clinics ORDER BY name, clinic_id""")
    return [ClinicPublic(**r) for r in rows]


def get_clinic(pool: ConnectionPool, clinic_id: UUID) -> ClinicPublic:
    rows = fetch_all(pool, """SELECT clinic_id AS id, name, address, time_zone, modalities
                         FROM directory_clinics WHERE clinic_id = %s""", (clinic_id,))
    return ClinicPublic(**_one(rows, "clinic", clinic_id))


def list_services(pool: ConnectionPool) -> list[ServicePublic]:
    rows = fetch_all(pool, """SELECT service_id AS id, name, duration_minutes, modality
                         FROM directory_services ORDER BY name, service_id""")
    return [ServicePublic(**r) for r in rows]


def get_service(pool: ConnectionPool, service_id: UUID) -> ServicePublic:
    rows = fetch_all(pool, """SELECT service_id AS id, name, duration_minutes, modality
                         FROM directory_services WHERE service_id = %s""", (service_id,))
    return ServicePublic(**_one(rows, "service", service_id))


def list_providers(pool: ConnectionPool, clinic_id: UUID | None,
                   service_id: UUID | None) -> list[ProviderPublic]:
    rows = fetch_all(pool, """SELECT provider_id AS id, display_name, clinic_ids, service_ids
        FROM directory_providers
        WHERE (%(c)s::uuid IS NULL OR %(c)s = ANY(clinic_ids))
          AND (%(s)s::uuid IS NULL OR %(s)s = ANY(service_ids))
        ORDER BY display_name, provider_id""", {"c": clinic_id, "s": service_id})
    return [ProviderPublic(**r) for r in rows]


def get_provider(pool: ConnectionPool, provider_id: UUID) -> ProviderPublic:
    rows = fetch_all(pool, """SELECT provider_id AS id, display_name, clinic_ids, service_ids
                         FROM directory_providers WHERE provider_id = %s""", (provider_id,))
    return ProviderPublic(**_one(rows, "provider", provider_id))


def get_availability(pool: ConnectionPool, provider_id: UUID,
                     clinic_id: UUID) -> AvailabilityPublic:
    rows = fetch_all(pool, """SELECT schedule_id, provider_id, clinic_id, rules
                         FROM availability_schedules WHERE provider_id = %s AND clinic_id = %s""",
                (provider_id, clinic_id))
    if not rows:
        raise NotFoundError(f"provider {provider_id} has no published hours at clinic {clinic_id}")
    return AvailabilityPublic(**rows[0])


def _one(rows: list[dict[str, Any]], label: str, given: UUID) -> dict[str, Any]:
    if not rows:
        raise NotFoundError(f"no {label} with id {given}")
    return rows[0]
