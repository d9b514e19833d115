"""Holds: keep a slot for a few minutes while the patient signs in and confirms."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel

from commands.models import Strict
from commands.ports import HoldLimitError
from infra.auth.tokens import Principal
from infra.container import Container
from infra.http.client import client_ip, client_pseudonym
from infra.http.commands import rate_limit
from infra.http.deps import ContainerDep
from infra.http.problems import ProblemError
from infra.http.security import MaybePrincipal

router = APIRouter(tags=["holds"])


class HoldCreate(Strict):
    slot_id: UUID


class HoldPublic(BaseModel):
    hold_id: UUID
    hold_secret: str
    slot_id: UUID
    expires_at: datetime


@router.post("/holds", status_code=201, response_model=HoldPublic,
             responses={409: {"description": "Someone else holds or booked the slot"},
                        429: {"description": "Too many holds at once"}})
def create_hold(body: HoldCreate, request: Request, principal: MaybePrincipal,
                container: ContainerDep) -> HoldPublic:
    """Hold a slot (sign-in optional). Keep `hold_secret`: booking and releasing need it."""
    by_ip = ("holds-ip", client_ip(request), 60, 60)
    if principal is None:
        rate_limit(container, by_ip)
    else:
        rate_limit(container, by_ip, ("holds-subject", principal.subject, 20, 60))
    slot = container.slots.slot(body.slot_id)
    if slot is None or slot.book_by < datetime.now(UTC):
        raise ProblemError("not-found", f"no bookable slot with id {body.slot_id}")
    secret = secrets.token_urlsafe(24)
    try:
        hold = container.holds.place(body.slot_id, holder_of(request, principal, container),
                                     secret_hash(secret),
                                     container.settings.hold_ttl_seconds * 1000,
                                     container.settings.max_holds_per_client)
    except HoldLimitError as exc:
        raise ProblemError("rate-limited", "You hold as many slots as allowed; release one "
                           "or wait for one to expire.", error="hold-limit",
                           headers={"Retry-After": str(exc.retry_after)}) from None
    if hold is None:
        raise ProblemError("conflict", "Someone else is holding that time.", error="slot-held")
    return HoldPublic(hold_id=hold.hold_id, hold_secret=secret, slot_id=hold.slot_id,
                      expires_at=hold.expires_at)


@router.delete("/holds/{slot_id}/{hold_id}", status_code=204, response_class=Response)
def release_hold(slot_id: UUID, hold_id: UUID,
                 hold_secret: Annotated[str, Header(max_length=100)],
                 container: ContainerDep) -> Response:
    """Give a held slot back (send the hold secret in the `Hold-Secret` header)."""
    check_hold(container, slot_id, hold_id, hold_secret)
    container.holds.release(slot_id, hold_id)
    return Response(status_code=204)


def holder_of(request: Request, principal: Principal | None, container: Container) -> str:
    """Signed-in callers by id; others by a keyed hash of their address (an identifier)."""
    if principal is not None:
        return f"{principal.role.value}:{principal.subject}"
    return "ip:" + client_pseudonym(request, container.keys.pseudonyms)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_hold(container: Container, slot_id: UUID, hold_id: UUID, secret: str) -> None:
    """The hold exists and the caller proves it is theirs; otherwise a clear problem."""
    current = container.holds.holding(slot_id)
    if current is None or current[0].hold_id != hold_id:
        raise ProblemError("not-found", "That hold has expired or was released.",
                           error="hold-not-found")
    if not secrets.compare_digest(current[1], secret_hash(secret)):
        raise ProblemError("conflict", "That hold belongs to someone else.", error="slot-held")
