"""Waitlist look-ups over the read model: one entry, and the entries a caller may list."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.access import Role
from domain.errors import NotFoundError
from domain.record_access import (
    Caller,
    clinics_in_reach,
    require_patients_list,
    require_waitlist_entry,
)
from queries.db import ReadPool, fetch_all

_SELECT = """
SELECT entry_id AS id, patient_id, service_id, clinic_ids, provider_id, not_before,
       not_after, instead_of, priority, status, joined_at, appointment_id, offer_id,
       offer_slot_id, offer_start, offer_end, offer_expires_at
FROM waitlist_entries
"""


async def read_entry(pool: ReadPool, caller: Caller, entry_id: UUID) -> dict[str, Any]:
    """One entry the caller may reach (domain/record_access.py)."""
    rows = await fetch_all(pool, _SELECT + "WHERE entry_id = %s", (entry_id,))
    if not rows:
        raise NotFoundError(f"no waitlist entry with id {entry_id}")
    row = _shaped(rows[0])
    require_waitlist_entry(caller, entry_id, row["patient_id"], row["clinic_ids"],
                           row["provider_id"])
    return row


async def list_entries(pool: ReadPool, caller: Caller,
                       patient_id: UUID | None) -> list[dict[str, Any]]:
    """A patient's own entries; a provider's, those naming them; staff's, those for their
    clinics (or any clinic), optionally of one patient. Newest first."""
    if patient_id is not None:
        require_patients_list(caller, patient_id)
    elif caller.role is Role.patient:
        patient_id = _subject_id(caller.subject)
    params: dict[str, Any] = {"patient": patient_id, "provider": None, "clinics": None}
    if caller.role is Role.provider:
        params["provider"] = _subject_id(caller.subject)
    elif caller.role is not Role.patient and (reach := clinics_in_reach(caller)) is not None:
        params["clinics"] = sorted(reach)
    rows = await fetch_all(pool, _SELECT + """
        WHERE (%(patient)s::uuid IS NULL OR patient_id = %(patient)s)
          AND (%(provider)s::uuid IS NULL OR provider_id = %(provider)s::uuid)
          AND (%(clinics)s::uuid[] IS NULL OR cardinality(clinic_ids) = 0
               OR clinic_ids && %(clinics)s::uuid[])
        ORDER BY joined_at DESC, entry_id LIMIT 200""", params)
    return [_shaped(row) for row in rows]


def _subject_id(subject: str) -> UUID:
    """A caller's subject as a record id."""
    try:
        return UUID(subject)
    except ValueError:
        return UUID(int=0)  # a subject that is no record id reaches nothing


def _shaped(row: dict[str, Any]) -> dict[str, Any]:
    """A row in the shape of the entry's public model, its open offer nested."""
    offer = {"offer_id": row.pop("offer_id"), "slot_id": row.pop("offer_slot_id"),
             "start": row.pop("offer_start"), "end": row.pop("offer_end"),
             "expires_at": row.pop("offer_expires_at")}
    row["offer"] = offer if offer["offer_id"] is not None else None
    return row
