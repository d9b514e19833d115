"""Recording PHI reads and denied requests from the HTTP edge (stored by
infra/postgres/audit_trail.py)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from commands.context import Actor
from commands.ports import AuditEntry
from domain.access import DEFAULT_PURPOSE, PurposeOfUse, Role
from infra.auth.tokens import Principal
from infra.http.client import client_pseudonym
from infra.http.deps import container_of
from infra.http.problems import ProblemError
from infra.http.request_context import request_id_of
from infra.wiring.container import Container

PURPOSE_HEADER = "x-purpose-of-use"
STAFF = (Role.front_desk, Role.admin)
BREAK_GLASS = "break-glass"  # staff read PHI stating an emergency
log = structlog.get_logger("clinic.audit")


def purpose_of(request: Request, principal: Principal | Actor | None) -> PurposeOfUse:
    """The purpose the caller states in `X-Purpose-Of-Use`, else their role's default."""
    given = request.headers.get(PURPOSE_HEADER)
    if given is None:
        return DEFAULT_PURPOSE[_role(principal)]
    try:
        return PurposeOfUse(given.strip().lower())
    except ValueError:
        raise ProblemError(
            "validation-error", "X-Purpose-Of-Use must be one of: "
            + ", ".join(p.value for p in PurposeOfUse) + ".", error="invalid-purpose") from None


def record_read(request: Request, principal: Principal | Actor, *, patient_id: UUID | None = None,
                record_id: object = None, patient_ids: Iterable[UUID] = ()) -> None:
    """Record that PHI is about to be shown: of one patient, or one row per patient in a
    list (a provider's day). If the audit cannot be written, the read fails."""
    purpose_of(request, principal)  # an unknown purpose is refused before anything is shown
    container = container_of(request)
    whose: list[UUID | None] = [*sorted(set(patient_ids))] or [patient_id]
    container.audit.record(*(_entry(request, principal, container, "read", "allowed", 200,
                                    patient_id=p, record_id=record_id) for p in whose))


async def record_read_async(request: Request, principal: Principal | Actor, *,
                            patient_id: UUID | None = None, record_id: object = None,
                            patient_ids: Iterable[UUID] = ()) -> None:
    await run_in_threadpool(lambda: record_read(request, principal, patient_id=patient_id,
                                                record_id=record_id, patient_ids=patient_ids))


async def record_denial(request: Request, status: int, code: str) -> None:
    """Record a refused request (401, 403, 429, or a 404 hiding someone else's record)."""
    container: Container | None = getattr(request.app.state, "container", None)
    if container is None:
        return
    principal: Principal | None = getattr(request.state, "principal", None)
    entry = _entry(request, principal, container, "denied", "denied", status, detail=code,
                   patient_id=_path_uuid(request, "patient_id"),
                   record_id=_path_record(request))
    try:
        await run_in_threadpool(container.audit.record, entry)
    except Exception:  # the refusal stands even if its record cannot be written
        log.exception("could not record a denied request", status=status, problem=code)


def _entry(request: Request, principal: Principal | Actor | None, container: Container,
           action: str, outcome: str, status: int, *, patient_id: UUID | None = None,
           record_id: object = None, detail: str = "") -> AuditEntry:
    route = request.scope.get("route")
    try:
        purpose = purpose_of(request, principal).value
    except ProblemError:  # refused for that very reason: record the role's default
        purpose = DEFAULT_PURPOSE[_role(principal)].value
    role = _role(principal)
    if outcome == "allowed" and role in STAFF and purpose == PurposeOfUse.emergency.value:
        detail = BREAK_GLASS  # beyond their own clinics, perhaps: compliance reviews these
    return AuditEntry(
        actor=principal.subject if principal else "anonymous",
        role=role.value if role else "anonymous",
        action=action,
        resource=f"{request.method} {getattr(route, 'path', request.url.path)}",
        purpose=purpose, outcome=outcome, status=status,
        request_id=request_id_of(request),
        patient_id=patient_id, record_id=None if record_id is None else str(record_id),
        detail=detail,
        client=client_pseudonym(request, container.keys.pseudonyms),
    )


def _path_record(request: Request) -> str | None:
    """What a refused request asked for: the ids in its path."""
    ids = [f"{k}={v}" for k, v in request.path_params.items()]
    return " ".join(ids)[:300] or None


def _path_uuid(request: Request, name: str) -> UUID | None:
    try:
        return UUID(str(request.path_params[name]))
    except (KeyError, ValueError):
        return None


def _role(caller: Principal | Actor | None) -> Role | None:
    return caller.role if caller is not None else None
