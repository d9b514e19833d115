"""Keyset cursors over (start, id): opaque to clients, a page costs the same at any depth."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from domain.errors import InvalidInputError


class InvalidSearchError(InvalidInputError):
    code = "invalid-search"


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
