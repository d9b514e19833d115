"""A row's reasons as the report names them: the source's column, the refused value
(shortened), the rule and the message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from commands.ingest.rows import COLUMN_OF
from commands.ports import RowReject

MAX_VALUE = 200  # characters of a refused value kept in the report


def shape_rejects(number: int, error: ValidationError,
                  values: Mapping[str, Any]) -> list[RowReject]:
    """One reject per pydantic error, named by the source's column."""
    rejects = []
    for item in error.errors(include_url=False):
        column = _column(item["loc"])
        rejects.append(RowReject(number, column, value_text(values.get(column, "")),
                                 item["type"], item["msg"]))
    return rejects


def _column(loc: tuple[int | str, ...]) -> str:
    if len(loc) > 1 and loc[0] == "weekly":
        return str(loc[1])
    named = COLUMN_OF.get(tuple(str(p) for p in loc[:2])) or COLUMN_OF.get((str(loc[0]),))
    return named or (str(loc[0]) if loc else "")


def value_text(value: Any) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return text[:MAX_VALUE]

