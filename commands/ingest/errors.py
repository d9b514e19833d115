"""Ingestion's refusals, each with a stable code (docs/errors.md)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import InvalidInputError, RuleViolationError


class IngestSourceError(InvalidInputError):
    """The source could not be read on (a wrong header, not UTF-8, malformed JSON, a partner
    that keeps failing). Rows read before it still count; the run is recorded as failed."""

    code = "ingest-source-invalid"

    def __init__(self, detail: str, *, run_id: UUID | None = None,
                 report: Any = None) -> None:
        super().__init__(detail)
        self.run_id = run_id
        self.report = report  # the run's IngestReport, once recorded

    def extensions(self) -> dict[str, str]:
        return {"run_id": str(self.run_id)} if self.run_id else {}


class InvalidSourceNameError(InvalidInputError):
    code = "invalid-source-name"


class TimeZoneFixedError(RuleViolationError):
    """A clinic's time zone never changes (its slots and hours depend on it)."""

    code = "time-zone-fixed"


class RowRuleError(RuleViolationError):
    """A row's refusal that names the column and value at fault."""

    def __init__(self, detail: str, column: str = "", value: str = "") -> None:
        super().__init__(detail)
        self.column, self.value = column, value


class UnknownReferenceError(RowRuleError):
    """A row names a clinic, service or provider that neither exists nor is in the run."""

    code = "unknown-reference"


class DurationOffGridError(RowRuleError):
    """A service's visits must fill whole steps of the hours' slot granularity."""

    code = "duration-not-multiple-of-granularity"
