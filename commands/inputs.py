"""Date and time inputs that accept what the OpenAPI document promises, and nothing more.

pydantic's lax mode reads a number, or a string of digits, as a Unix time for `date` and
`datetime`: `?day=0` meant 1970-01-01 and `"birth_date": 0` registered someone born that day,
while the document says "an ISO 8601 string" (`format: date` / `date-time`). A `date-time` is
RFC 3339, so it carries its UTC offset. The generated schema is unchanged.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _DATE.match(value)):
        return value
    raise ValueError("expected a date as YYYY-MM-DD")


def _iso_date_time(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME.match(value)):
        return value
    raise ValueError("expected an RFC 3339 date-time with its offset, e.g. 2026-12-01T09:00:00Z")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_date_time)]
