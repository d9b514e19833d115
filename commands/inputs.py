"""Date, time and text inputs that accept what the OpenAPI document promises, and nothing more.

pydantic's lax mode reads a number, or a string of digits, as a Unix time for `date` and
`datetime`: `?day=0` meant 1970-01-01 and `"birth_date": 0` registered someone born that day,
while the document says "an ISO 8601 string" (`format: date` / `date-time`). A `date-time` is
RFC 3339, so it carries its UTC offset. The generated schema is unchanged.

Text fields refuse the characters no recorded text may hold (domain/text.py) here too, so that
a refusal is a 422 naming the field before any use case runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from domain.text import MULTILINE_PATTERN, ONE_LINE_PATTERN, character_problem

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


@dataclass(frozen=True)
class WithJsonSchemaPattern:
    """Adds `pattern` to the field's JSON Schema (the OpenAPI document) without asking pydantic
    to check it."""

    pattern: str

    def __get_pydantic_json_schema__(self, core: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core)
        schema["pattern"] = self.pattern
        return schema


def _one_line(value: str) -> str:
    if (problem := character_problem(value)) is not None:
        raise ValueError(f"the text {problem}")
    return value


def _multiline(value: str) -> str:
    if (problem := character_problem(value, multiline=True)) is not None:
        raise ValueError(f"the text {problem}")
    return value


# Checked in Python (pydantic's own pattern engine cannot see a lone surrogate), documented
# as the same JSON Schema pattern. Normal form C is checked by the domain (invalid-text).
PlainText = Annotated[str, AfterValidator(_one_line),
                      WithJsonSchemaPattern(ONE_LINE_PATTERN)]
MultilineText = Annotated[str, AfterValidator(_multiline),
                          WithJsonSchemaPattern(MULTILINE_PATTERN)]
