"""What an imported cell may hold, read before a row model checks it (docs/ingest.md): a list
as a list or `;`-separated text, a duration as minutes or ISO 8601 (`PT1H30M`), a day's hours
as `09:00-12:00;13:00-17:00`, an IANA time zone, an E.164 phone, a YYYY-MM-DD date."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from commands.inputs import PlainText
from domain.clinics import InvalidClinicError, valid_time_zone
from domain.intervals import Interval, InvalidIntervalError

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ISO_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


def as_list(value: Any) -> Any:
    """`a;b` (a CSV cell) or a JSON list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def as_time_zone(value: Any) -> Any:
    if isinstance(value, str):
        try:
            valid_time_zone(value)
        except InvalidClinicError:
            raise PydanticCustomError("iana-time-zone", "not an IANA time zone name such as "
                                      "America/Chicago") from None
    return value


def as_phone(value: Any) -> Any:
    if isinstance(value, str) and not _E164.match(value.strip()):
        raise PydanticCustomError("e164-phone", "not an E.164 phone number such as +16175550100")
    return value.strip() if isinstance(value, str) else value


def as_minutes(value: Any) -> Any:
    """Minutes as a number, or an ISO 8601 duration of hours and minutes (PT45M, PT1H30M)."""
    if isinstance(value, str) and value.strip().upper().startswith("PT"):
        found = _ISO_DURATION.match(value.strip().upper())
        if not found or not any(found.groups()):
            raise PydanticCustomError("duration", "not a duration: minutes, or ISO 8601 "
                                      "such as PT45M or PT1H30M")
        return int(found.group(1) or 0) * 60 + int(found.group(2) or 0)
    return value


def as_iso_day(value: Any) -> Any:
    """Only YYYY-MM-DD: the row's key is its text, so one date has one spelling."""
    if isinstance(value, str) and not _ISO_DAY.match(value.strip()):
        raise PydanticCustomError("iso-date", "a date is YYYY-MM-DD")
    return value.strip() if isinstance(value, str) else value


def as_day_hours(value: Any) -> Any:
    """`09:00-12:00;13:00-17:00` (or a JSON list of [start, end] pairs): the day's ranges,
    each within one day and starting before it ends."""
    if isinstance(value, str):
        pairs = []
        for part in as_list(value):
            found = _RANGE.match(part)
            if not found:
                raise PydanticCustomError("time-range", "hours are HH:MM-HH:MM ranges "
                                          "separated by ';'")
            pairs.append([found.group(1).zfill(5), found.group(2).zfill(5)])
        value = pairs
    if isinstance(value, list):
        for pair in value:
            try:
                Interval.parse(*pair)
            except (InvalidIntervalError, TypeError):
                raise PydanticCustomError("hours-inside-a-day", "a time range must start "
                                          "before it ends, within one day (00:00-24:00)"
                                          ) from None
    return value


Listed = Annotated[list[PlainText], BeforeValidator(as_list)]
ExternalId = Annotated[PlainText, Field(min_length=1, max_length=200)]
DayHours = Annotated[list[list[str]], BeforeValidator(as_day_hours)]
