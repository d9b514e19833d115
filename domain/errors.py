"""Domain errors are values with stable codes; infra/http/problems.py maps them to HTTP."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A broken business rule, named by a stable `code` (documented in docs/errors.md)."""

    code: ClassVar[str] = "domain-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, str]:
        """Extra problem members a client can act on (never PHI): e.g. when a visit opens."""
        return {}


class NotFoundError(DomainError):
    code = "not-found"


class ConflictError(DomainError):
    code = "conflict"


class RuleViolationError(DomainError):
    code = "rule-violation"


class InvalidInputError(DomainError):
    """The request itself makes no sense (a reversed range, a forged cursor)."""

    code = "invalid-input"
