"""Keyset cursors over (start, id): opaque to clients, a page costs the same at any depth; and
the calendar's bounds every date a search is given must fall in."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from uuid import UUID

from domain.errors import InvalidInputError


class InvalidSearchError(InvalidInputError):
    code = "invalid-search"


# The years a clinic's calendar can hold; far outside them date arithmetic overflows
# (start_from=9999-12-31T23:59:59Z plus the default range was a 500).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


def in_calendar(name: str, given: date | None) -> None:
    """Refuse a date (or date-time) the calendar cannot hold, naming the parameter only."""
    if given is not None and not EARLIEST_YEAR <= given.year <= LATEST_YEAR:
        raise InvalidSearchError(f"{name} must fall in the years {EARLIEST_YEAR} to "
                                 f"{LATEST_YEAR}")


def encode_cursor(start: datetime, record_id: UUID) -> str:
    raw = f"{start.isoformat()}|{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, record_id = raw.split("|")
        when = datetime.fromisoformat(start)
        if when.tzinfo is None:
            raise ValueError
        return when, UUID(record_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidSearchError("cursor is not one this API returned") from None
