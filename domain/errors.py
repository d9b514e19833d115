"""Domain errors are values with stable codes; infra/http/problems.py maps them to HTTP."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A broken business rule, named by a stable `code` (documented in docs/errors.md)."""

    code: ClassVar[str] = "domain-error"
    # A refusal the access audit records as one (e.g. someone else's record shown as absent).
    denied: ClassVar[bool] = False

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after  # seconds until trying again can succeed

    def extensions(self) -> dict[str, str]:
        """Extra problem members a client can act on (never PHI): e.g. when a visit opens."""
        return {}


class NotFoundError(DomainError):
    code = "not-found"


class ConflictError(DomainError):
    code = "conflict"


class PreconditionFailedError(DomainError):
    """The caller changed a record it read at another version (If-Match): read it again."""

    code = "precondition-failed"


class RuleViolationError(DomainError):
    code = "rule-violation"


class InvalidInputError(DomainError):
    """The request itself makes no sense (a reversed range, a forged cursor)."""

    code = "invalid-input"


class NotAuthenticatedError(DomainError):
    """The caller did not prove who they are (a wrong code, a forged link)."""

    code = "unauthenticated"
    denied = True


class ForbiddenError(DomainError):
    """The caller is known, and their role may not do this."""

    code = "forbidden"
    denied = True


class LimitReachedError(DomainError):
    """Too much at once (holds per person, attempts per window): wait `retry_after`."""

    code = "rate-limited"
    denied = True
