"""FHIR date search bounds (infra/fhir/search.py) as Slot's `start` and `end` use them, a
hold refused for a booked slot, and our problems as OperationOutcomes (infra/fhir/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.fhir.outcome import operation_outcome
from infra.fhir.search import (
    MAX_IDS,
    InvalidFhirSearchError,
    Range,
    ids_of,
    local_limit,
    utc_limit,
)

NOON = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
STEP = timedelta(microseconds=1)


def _range(*values: str) -> Range:
    found = Range()
    for value in values:
        found.add("end", value)
    return found


@pytest.mark.parametrize(("value", "lower", "upper"), [
    ("eq2026-12-08T12:00:00Z", NOON, NOON + STEP),  # the instant itself
    ("ge2026-12-08T12:00:00Z", NOON, None),
    ("gt2026-12-08T12:00:00Z", NOON + STEP, None),
    ("le2026-12-08T12:00:00Z", None, NOON + STEP),
    ("lt2026-12-08T12:00:00Z", None, NOON),
    ("2026-12-08T07:00:00-05:00", NOON, NOON + STEP),  # an offset is the same instant
])
def test_an_instant_is_a_half_open_utc_limit(value: str, lower: datetime | None,
                                             upper: datetime | None) -> None:
    bounds = _range(value)
    assert utc_limit(bounds.lower, lower=True, window=False) == lower
    assert utc_limit(bounds.upper, lower=False, window=False) == upper
    assert local_limit(bounds.lower, lower=True) is None  # no clinic-local part


def test_a_date_alone_is_a_clinic_local_day_and_no_utc_limit_of_its_own() -> None:
    day = _range("2026-12-08")
    assert local_limit(day.lower, lower=True) == datetime(2026, 12, 8)
    assert local_limit(day.upper, lower=False) == datetime(2026, 12, 9)  # exclusive
    assert utc_limit(day.lower, lower=True, window=False) is None
    after = _range("gt2026-12-08")
    assert local_limit(after.lower, lower=True) == datetime(2026, 12, 9)  # the next day on
    assert after.upper is None
    # As a window around every zone's day (how `start` narrows its index range).
    assert utc_limit(day.lower, lower=True) == datetime(2026, 12, 8, tzinfo=UTC) - \
        timedelta(hours=15)


@pytest.mark.parametrize("values", [
    ("tomorrow",), ("2026-12-08T09:00:00",), ("sa2026-12-08",), ("2026-02-30",),
    ("ge2026-12-08", "gt2026-12-09"), ("lt2026-12-08", "le2026-12-09"), ("eq0001-01-01",)])
def test_what_a_date_search_refuses(values: tuple[str, ...]) -> None:
    with pytest.raises(InvalidFhirSearchError):
        _range(*values)


@pytest.mark.parametrize(("problem", "status", "issue"), [
    ("conflict", 409, "conflict"), ("rate-limited", 429, "throttled"),
    ("not-found", 404, "not-found"), ("validation-error", 422, "invalid"),
    ("rule-violation", 422, "business-rule")])
def test_problems_become_operation_outcomes_with_fhirs_status(
        problem: str, status: int, issue: str) -> None:
    answered, outcome = operation_outcome(problem, status, "why", {"error": "slot-held"})
    expected = 400 if problem == "validation-error" else status  # FHIR: a bad input is 400
    assert answered == expected and outcome["resourceType"] == "OperationOutcome"
    first = outcome["issue"][0]
    assert (first["code"], first["diagnostics"]) == (issue, "why")
    assert first["details"]["coding"][0]["code"] == "slot-held"


def test_id_lists_take_a_few_ids_each_once() -> None:
    a, b = "0a0a0a0a-0000-4000-8000-000000000001", "0a0a0a0a-0000-4000-8000-000000000002"
    assert [str(i) for i in ids_of(f"{a}, Slot/{b},{a},", "Slot")] == [a, b]
    assert ids_of("", "Slot") == ()  # `_id=` matches nothing
    assert len(ids_of(",".join([a] * 40), "Slot")) == 1  # a repeat is no extra read
    for refused in ("Patient/" + a, "not-an-id",
                    ",".join(f"0a0a0a0a-0000-4000-8000-{n:012d}" for n in range(MAX_IDS + 1))):
        with pytest.raises(InvalidFhirSearchError):
            ids_of(refused, "Slot")


@pytest.mark.parametrize("value", ["ge2026-12-08T09:00Ana", "Ana-Lima", "ge2026-12-08T09:00:00",
                                   "2026-02-30"])
def test_a_refused_search_value_is_named_not_quoted(value: str) -> None:
    """docs/errors.md: details never echo input (a search value may be anything typed)."""
    with pytest.raises(InvalidFhirSearchError) as refused:
        _range(value)
    assert value not in str(refused.value) and "Ana" not in str(refused.value)
    assert str(refused.value).startswith("end")
