"""FHIR search parameters as our slot search understands them (docs/fhir.md).

Dates: `start=2026-12-08` (or `ge2026-12-08`, ...) with no time is a day **in each slot's
clinic time zone** — "Tuesday's slots" means Tuesday where the clinic is, whichever zone
the caller is in; with a time it must carry an offset (`2026-12-08T09:00:00Z`) and is an
instant. Prefixes: eq (the default; for a date, that whole local day), ge, gt, le, lt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from domain.errors import InvalidInputError
from queries.cursors import EARLIEST_YEAR, LATEST_YEAR

PREFIXES = ("eq", "ge", "gt", "le", "lt")
LOCAL_SLACK = timedelta(hours=15)  # every zone's local day lies within its UTC day ± this
_PREFIXED = re.compile(r"^(eq|ge|gt|le|lt|ne|sa|eb|ap)?(.+)$")


class InvalidFhirSearchError(InvalidInputError):
    code = "invalid-fhir-search"


@dataclass(frozen=True)
class Bound:
    """One side of a range: instants (UTC-aware) or clinic-local wall-clock times."""

    at: datetime
    local: bool  # a date without time: compare the slot's clinic-local start
    inclusive: bool


@dataclass
class Range:
    lower: Bound | None = None
    upper: Bound | None = None

    def add(self, parameter: str, text: str) -> None:
        match = _PREFIXED.match(text)
        if match is None:
            raise InvalidFhirSearchError(f"{parameter} is not a date")
        prefix, value = match.group(1) or "eq", match.group(2)
        if prefix not in PREFIXES:
            raise InvalidFhirSearchError(f"{parameter}: prefix {prefix!r} is not supported "
                                         f"(use {', '.join(PREFIXES)})")
        start, end, local = _period(parameter, value)
        # A date spans [start, end) of its day; an instant is the point start == end.
        if prefix in ("eq", "ge"):
            self._lower(Bound(start, local, True))
        elif prefix == "gt":
            self._lower(Bound(end, local, inclusive=local))
        if prefix in ("eq", "le"):
            self._upper(Bound(end, local, inclusive=not local))
        elif prefix == "lt":
            self._upper(Bound(start, local, False))

    def _lower(self, bound: Bound) -> None:
        if self.lower is not None:
            raise InvalidFhirSearchError("give at most one lower bound (eq, ge or gt)")
        self.lower = bound

    def _upper(self, bound: Bound) -> None:
        if self.upper is not None:
            raise InvalidFhirSearchError("give at most one upper bound (eq, le or lt)")
        self.upper = bound


def utc_limit(bound: Bound | None, *, lower: bool, window: bool = True) -> datetime | None:
    """An instant bound as a half-open UTC limit; a local date as the UTC window that
    contains it in every zone (`window`), or no UTC limit at all."""
    if bound is None:
        return None
    if bound.local:
        if not window:
            return None
        at = bound.at.replace(tzinfo=UTC)
        return at - LOCAL_SLACK if lower else at + LOCAL_SLACK
    step = timedelta(microseconds=1)
    if lower:
        return bound.at if bound.inclusive else bound.at + step
    return bound.at + step if bound.inclusive else bound.at


def local_limit(bound: Bound | None, *, lower: bool) -> datetime | None:
    if bound is None or not bound.local:
        return None
    return bound.at  # dates are whole days: lower inclusive, upper exclusive


def _period(parameter: str, value: str) -> tuple[datetime, datetime, bool]:
    """The span a value denotes: a date is its whole day (local), an instant a point."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InvalidFhirSearchError(f"{parameter}: not a date") from None
        start = _in_range(parameter, datetime(day.year, day.month, day.day))
        return start, start + timedelta(days=1), True
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFhirSearchError(f"{parameter}: not a FHIR date or "
                                     "dateTime") from None
    if moment.tzinfo is None:
        raise InvalidFhirSearchError(f"{parameter}: a time needs its UTC offset (e.g. …T09:00:00Z)")
    return _in_range(parameter, moment), moment, False


def _in_range(parameter: str, moment: datetime) -> datetime:
    """Dates a clinic's calendar can hold (far outside them date arithmetic overflows)."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise InvalidFhirSearchError(f"{parameter}: dates fall in the years {EARLIEST_YEAR} "
                                     f"to {LATEST_YEAR}")
    return moment


def reference_id(parameter: str, value: str, kind: str) -> UUID:
    """`Kind/<id>` or `<id>`."""
    given = value.removeprefix(f"{kind}/")
    try:
        return UUID(given)
    except ValueError:
        raise InvalidFhirSearchError(f"{parameter}: not a {kind} "
                                     "reference") from None


MAX_IDS = 20  # `_id=a,b,…`: a search by id names a few records, not a catalogue


def ids_of(value: str, kind: str) -> tuple[UUID, ...]:
    """`_id`: comma-separated ids (each `Kind/<id>` or `<id>`), each once."""
    ids = tuple(dict.fromkeys(reference_id("_id", i.strip(), kind)
                              for i in value.split(",") if i.strip()))
    if len(ids) > MAX_IDS:
        raise InvalidFhirSearchError(f"_id: at most {MAX_IDS} ids")
    return ids


def token_code(parameter: str, value: str, system: str) -> UUID:
    """`system|code` or `code`, for our own id-coded systems."""
    given_system, bar, code = value.rpartition("|")
    if bar and given_system not in ("", system):
        raise InvalidFhirSearchError(f"{parameter}: unknown code system (use {system})")
    try:
        return UUID(code)
    except ValueError:
        raise InvalidFhirSearchError(f"{parameter}: not a code of {system}") \
            from None
