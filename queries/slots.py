"""Slot search: open, bookable times by clinic, service, provider, modality and time range.

Keyset pagination over (start_at, slot_id): a page costs the same at any depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.errors import NotFoundError
from queries.cursors import (
    InvalidSearchError,
    decode_cursor,
    encode_cursor,
    in_calendar,
)
from queries.db import ReadPool, fetch_all

MAX_RANGE = timedelta(days=93)
DEFAULT_RANGE = timedelta(days=14)


def search_window(start_from: datetime | None, start_to: datetime | None,
                  now: datetime) -> tuple[datetime, datetime]:
    """The instants a search spans: from `now`, for DEFAULT_RANGE, unless given."""
    in_calendar("start_from", start_from)
    in_calendar("start_to", start_to)
    start = start_from or now
    return start, start_to or start + DEFAULT_RANGE


@dataclass(frozen=True)
class SlotSearch:
    start_from: datetime
    start_to: datetime
    clinic_id: UUID | None = None
    service_id: UUID | None = None
    provider_id: UUID | None = None
    modality: str | None = None
    display_zone: ZoneInfo | None = None
    limit: int = 50
    cursor: str | None = None
    # The FHIR face's further conditions (docs/fhir.md): a schedule, ids, booked ("busy") slots,
    # clinic-local start and end days, end instants (`*_to` exclusive).
    schedule_id: UUID | None = None
    slot_ids: tuple[UUID, ...] | None = None  # `_id`: these slots only
    status: str = "open"
    local_start_from: datetime | None = None
    local_start_to: datetime | None = None
    end_from: datetime | None = None
    end_to: datetime | None = None
    local_end_from: datetime | None = None
    local_end_to: datetime | None = None

    def __post_init__(self) -> None:
        if self.start_from.tzinfo is None or self.start_to.tzinfo is None:
            raise InvalidSearchError("start_from and start_to need a UTC offset (…T09:00:00Z)")
        if self.start_to <= self.start_from:
            raise InvalidSearchError("start_to must be after start_from")
        if self.start_to - self.start_from > MAX_RANGE:
            raise InvalidSearchError(f"a search spans at most {MAX_RANGE.days} days")
        if self.status not in STATUSES:
            raise InvalidSearchError(f"status is one of {', '.join(STATUSES)}")


STATUSES = {"open": "s.status = 'open' AND s.book_by >= now()",  # bookable now
            "booked": "s.status = 'booked'"}
_COLUMNS = """
SELECT s.slot_id::text AS slot_id, s.schedule_id::text AS schedule_id, s.start_at, s.end_at,
       s.time_zone, s.modality, s.status,
       s.clinic_id::text AS clinic_id, c.name AS clinic_name,
       s.provider_id::text AS provider_id, p.display_name AS provider_name,
       s.service_id::text AS service_id, v.name AS service_name, v.duration_minutes
FROM open_slots s
JOIN directory_clinics c ON c.clinic_id = s.clinic_id
JOIN directory_providers p ON p.provider_id = s.provider_id
JOIN directory_services v ON v.service_id = s.service_id"""
_WINDOW = """
  AND s.start_at >= %(from)s AND s.start_at < %(to)s
  AND (s.start_at, s.slot_id) > (%(after_start)s, %(after_id)s)"""
_FILTERS = (("clinic", "s.clinic_id = %(clinic)s"), ("service", "s.service_id = %(service)s"),
            ("provider", "s.provider_id = %(provider)s"),
            ("modality", "s.modality = %(modality)s"),
            ("schedule", "s.schedule_id = %(schedule)s"),
            ("ids", "s.slot_id = ANY(%(ids)s)"),
            ("local_start_from", "s.local_start >= %(local_start_from)s"),
            ("local_start_to", "s.local_start < %(local_start_to)s"),
            ("end_from", "s.end_at >= %(end_from)s"), ("end_to", "s.end_at < %(end_to)s"),
            ("local_end_from", "s.local_end >= %(local_end_from)s"),
            ("local_end_to", "s.local_end < %(local_end_to)s"))
_ORDER = "\nORDER BY s.start_at, s.slot_id\nLIMIT %(limit)s"


def search_sql(present: frozenset[str], status: str = "open") -> str:
    """One statement per combination of filters, so each gets its own good plan: a generic
    plan with `(x IS NULL OR col = x)` conditions cannot use the per-filter indexes."""
    extra = "".join(f"\n  AND {condition}" for name, condition in _FILTERS
                    if name in present)
    return _COLUMNS + "\nWHERE " + STATUSES[status] + _WINDOW + extra + _ORDER


class HeldSlots(Protocol):
    async def held_among(self, slot_ids: list[str]) -> set[str]:
        """Which of these slots someone holds right now (Redis)."""


HOLD_SLACK = 10  # fetch a few more rows so a page stays full when some are held


async def search_slots(pool: ReadPool, search: SlotSearch,
                       held: HeldSlots | None = None) -> dict[str, Any]:
    after_start, after_id = decode_cursor(search.cursor) if search.cursor else (
        search.start_from - timedelta(microseconds=1), UUID(int=0))
    params: dict[str, Any] = {
        "from": search.start_from, "to": search.start_to, "after_start": after_start,
        "after_id": after_id, "clinic": search.clinic_id, "service": search.service_id,
        "provider": search.provider_id, "modality": search.modality,
        "schedule": search.schedule_id,
        "ids": None if search.slot_ids is None else list(search.slot_ids),
        "local_start_from": search.local_start_from,
        "local_start_to": search.local_start_to, "end_from": search.end_from,
        "end_to": search.end_to, "local_end_from": search.local_end_from,
        "local_end_to": search.local_end_to,
        "limit": search.limit + 1 + (HOLD_SLACK if held else 0),
    }
    present = frozenset(name for name, _ in _FILTERS if params[name] is not None)
    fetched = await fetch_all(pool, search_sql(present, search.status), params)
    if not fetched:
        await _require_known(pool, search)
    rows = fetched
    if held is not None and fetched:
        taken = await held.held_among([r["slot_id"] for r in fetched])
        rows = [r for r in fetched if r["slot_id"] not in taken]
    page = rows[: search.limit]
    if len(rows) > search.limit:  # more open times follow the page
        resume: dict[str, Any] | None = page[-1]
    elif len(fetched) == params["limit"]:
        # More were held than the slack covers: the next page starts after every row read
        # here (this page may even be empty; the cursor still leads on).
        resume = fetched[-1]
    else:
        resume = None
    return {
        "slots": [_slot(r, search.display_zone) for r in page],
        "next_cursor": None if resume is None
        else encode_cursor(resume["start_at"], resume["slot_id"]),
    }


def _slot(row: dict[str, Any], display_zone: ZoneInfo | None) -> dict[str, Any]:
    """Ids come as text from PostgreSQL: a page never builds UUID objects only to print
    them again (docs/performance.md)."""
    zone = ZoneInfo(row["time_zone"])
    local_start, local_end = row["start_at"].astimezone(zone), row["end_at"].astimezone(zone)
    if display_zone is None:  # shown in the clinic's own zone
        display_zone, display_start, display_end = zone, local_start, local_end
    else:
        display_start = row["start_at"].astimezone(display_zone)
        display_end = row["end_at"].astimezone(display_zone)
    return {
        "id": row["slot_id"], "schedule_id": row["schedule_id"],
        "start": row["start_at"], "end": row["end_at"],
        "clinic_local_start": local_start,
        "clinic_local_end": local_end,
        "clinic_time_zone": row["time_zone"],
        "display_start": display_start,
        "display_end": display_end,
        "display_time_zone": display_zone.key,
        "modality": row["modality"],
        "clinic": {"id": row["clinic_id"], "name": row["clinic_name"]},
        "provider": {"id": row["provider_id"], "name": row["provider_name"]},
        "service": {"id": row["service_id"], "name": row["service_name"]},
        "duration_minutes": row["duration_minutes"],
    }


async def find_slot(pool: ReadPool, slot_id: UUID) -> tuple[dict[str, Any], str]:
    """One slot, open or booked, as search lists it, and its status."""
    rows = await fetch_all(pool, _COLUMNS + "\nWHERE s.slot_id = %s", (slot_id,))
    if not rows:
        raise NotFoundError(f"no slot with id {slot_id}")
    return _slot(rows[0], None), rows[0]["status"]


async def _require_known(pool: ReadPool, search: SlotSearch) -> None:
    checks = [("clinic", "directory_clinics", "clinic_id", search.clinic_id),
              ("service", "directory_services", "service_id", search.service_id),
              ("provider", "directory_providers", "provider_id", search.provider_id)]
    for label, table, column, value in checks:
        if value is not None and not await fetch_all(
            pool, f"SELECT 1 FROM {table} WHERE {column} = %s", (value,)
        ):
            raise NotFoundError(f"no {label} with id {value}")


async def open_slots_after(pool: ReadPool, after: UUID, limit: int,
                           state: str | None = None) -> list[dict[str, Any]]:
    """Bookable slots by id after `after` (optionally at clinics in one state): a
    whole-catalogue walk in bounded pages (bulk publishing), each page an index range of the
    primary key."""
    in_state = "" if state is None else " AND c.address->>'state' = %(state)s"
    rows = await fetch_all(pool, _COLUMNS + "\nWHERE " + STATUSES["open"] + in_state
                           + " AND s.slot_id > %(after)s ORDER BY s.slot_id LIMIT %(limit)s",
                           {"after": after, "limit": limit, "state": state})
    return [_slot(row, None) for row in rows]


async def catalogue_version(pool: ReadPool) -> tuple[int, datetime | None]:
    """The slot catalogue's version: the slot-search projector's position, and when the
    directory last changed (validators for caching a bulk publication)."""
    rows = await fetch_all(pool, """SELECT
        (SELECT coalesce(max(notification_id), 0) FROM slot_search_tracking) AS position,
        greatest((SELECT max(updated_at) FROM directory_clinics),
                 (SELECT max(updated_at) FROM availability_schedules)) AS changed""")
    return int(rows[0]["position"]), rows[0]["changed"]
