"""/waitlist: join, list, read and leave entries; staff set urgency; accept an offer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from commands.context import Actor
from commands.visits import BookingPublic
from commands.waitlist_models import (
    OfferAcceptance,
    PriorityChange,
    WaitlistEntryPublic,
    WaitlistJoin,
)
from domain.access import Scope
from infra.http.audit import record_read_async
from infra.http.deps import Limits, ReadPool, WaitlistDep
from infra.http.responses import answered, idempotency_key
from infra.http.security import Acting
from queries import waitlist

router = APIRouter(prefix="/waitlist", tags=["waitlist"])
Joiner = Annotated[Actor, Acting(Scope.bookings_write)]
Reader = Annotated[Actor, Acting(Scope.bookings_read)]
Staff = Annotated[Actor, Acting(Scope.visits_manage)]


@router.post("/entries", status_code=201, response_model=WaitlistEntryPublic)
def create_waitlist_entry(body: WaitlistJoin, request: Request, actor: Joiner,
                          entries: WaitlistDep, limits: Limits) -> JSONResponse:
    """Wait for a visit of a service within a window. Send `Idempotency-Key` to retry."""
    limits.check(("waitlist-join", actor.subject, 20, 3600))
    outcome = entries.join(body, actor, idempotency_key(request, actor.subject))
    return answered(outcome, 201, location=f"/waitlist/entries/{outcome.result.id}")


@router.get("/entries", response_model=list[WaitlistEntryPublic])
async def read_waitlist_entries(
        request: Request, actor: Reader, pool: ReadPool,
        patient_id: Annotated[UUID | None, Query(description="One patient's")] = None,
) -> list[WaitlistEntryPublic]:
    """The entries the caller may see: a patient's own, newest first."""
    rows = await waitlist.list_entries(pool, actor, patient_id)
    await record_read_async(request, actor, patient_id=patient_id)
    return [WaitlistEntryPublic(**row) for row in rows]


@router.get("/entries/{entry_id}", response_model=WaitlistEntryPublic)
async def read_waitlist_entry(entry_id: UUID, request: Request, actor: Reader,
                              pool: ReadPool) -> WaitlistEntryPublic:
    """One entry, with its open offer if there is one."""
    row = await waitlist.read_entry(pool, actor, entry_id)
    await record_read_async(request, actor, patient_id=row["patient_id"], record_id=entry_id)
    return WaitlistEntryPublic(**row)


@router.delete("/entries/{entry_id}", response_model=WaitlistEntryPublic)
def leave_waitlist(entry_id: UUID, actor: Joiner,
                   entries: WaitlistDep) -> WaitlistEntryPublic:
    """Stop waiting; an open offer goes on to the next patient at once."""
    return entries.leave(entry_id, actor)


@router.put("/entries/{entry_id}/priority", response_model=WaitlistEntryPublic)
def set_waitlist_priority(entry_id: UUID, body: PriorityChange, actor: Staff,
                          entries: WaitlistDep) -> WaitlistEntryPublic:
    """Staff: the entry's clinical urgency (higher is offered first)."""
    return entries.prioritise(entry_id, body, actor)


@router.post("/entries/{entry_id}/accept", status_code=201, response_model=BookingPublic,
             responses={409: {"description": "The offer expired or was answered, or the "
                                             "time is gone; nothing was booked"}})
def accept_waitlist_offer(entry_id: UUID, body: OfferAcceptance, request: Request,
                          actor: Joiner, entries: WaitlistDep, limits: Limits) -> JSONResponse:
    """Accept the entry's open offer: the time is booked (or the visit moved to it)."""
    limits.check(("book", actor.subject, 30, 60), ("book-ip", limits.address, 120, 60))
    outcome = entries.accept(entry_id, body, actor, idempotency_key(request, actor.subject))
    return answered(outcome, 201, location=f"/bookings/{outcome.result.id}")
