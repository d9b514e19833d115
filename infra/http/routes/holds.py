"""/holds: keep a slot for a few minutes while the patient signs in and confirms."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Response

from commands.holds import HoldCreate, HoldPublic
from infra.http.deps import ClientPseudonym, HoldingDep, Limits
from infra.http.security import MaybeActor

router = APIRouter(prefix="/holds", tags=["holds"])


@router.post("", status_code=201, response_model=HoldPublic,
             responses={409: {"description": "Someone else holds or booked the slot"},
                        429: {"description": "Too many holds at once"}})
def create_hold(body: HoldCreate, actor: MaybeActor, holding: HoldingDep, limits: Limits,
                pseudonym: ClientPseudonym) -> HoldPublic:
    """Hold a slot (sign-in optional). Keep `hold_secret`: booking and releasing need it."""
    by_ip = ("holds-ip", limits.address, 60, 60)
    if actor.role is None:
        limits.check(by_ip)
    else:
        limits.check(by_ip, ("holds-subject", actor.subject, 20, 60))
    return holding.hold(body, actor, pseudonym)


@router.delete("/{slot_id}/{hold_id}", status_code=204, response_class=Response)
def release_hold(slot_id: UUID, hold_id: UUID,
                 hold_secret: Annotated[str, Header(max_length=100)],
                 holding: HoldingDep) -> Response:
    """Give a held slot back (send the hold secret in the `Hold-Secret` header)."""
    holding.release(slot_id, hold_id, hold_secret)
    return Response(status_code=204)


@router.post("/{slot_id}/{hold_id}/extend", response_model=HoldPublic,
             responses={409: {"description": "Extended as often as allowed already"}})
def extend_hold(slot_id: UUID, hold_id: UUID,
                hold_secret: Annotated[str, Header(max_length=100)],
                holding: HoldingDep) -> HoldPublic:
    """Keep a held slot for the hold's full time again, from now (at most 10 times; send the
    hold secret in the `Hold-Secret` header)."""
    return holding.extend(slot_id, hold_id, hold_secret)
