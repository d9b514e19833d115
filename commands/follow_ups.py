"""Follow-ups: the provider (or the front desk) asks for "a follow-up in two weeks" at the end
of a visit. The patient is booked the first free time of the same provider, service and
clinic in that window; if there is none, they join the waitlist for it, so that the first
time freed there is offered to them (docs/after-the-visit.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from commands.booking import Bookings, DuplicateAppointmentError
from commands.context import Actor, acting_as
from commands.idempotency import IdempotencyKey, Outcome, run_once
from commands.models import Strict
from commands.visits import BookingPublic
from commands.waitlist_models import WaitlistEntryPublic
from domain.access import Role
from domain.errors import ConflictError, ForbiddenError
from domain.waitlist import WaitlistEntry

FOLLOW_UP = "POST /bookings/{id}/follow-up"  # what Idempotency-Keys of follow-ups are scoped by
CANDIDATES = 20  # free times tried, soonest first, before joining the waitlist instead


class FollowUpCreate(Strict):
    after_days: Annotated[int, Field(ge=1, le=365, description="The follow-up's window starts "
                                                               "this many days after the visit")]
    within_days: Annotated[int, Field(ge=1, le=60, description="... and lasts this long")] = 7


class FollowUpPublic(BaseModel):
    """A booking, or, when no time was free, the waitlist entry that waits for one."""

    booking: BookingPublic | None = None
    waitlist_entry: WaitlistEntryPublic | None = None


class FollowUps:
    def __init__(self, bookings: Bookings) -> None:
        self.bookings = bookings

    def follow_up(self, appointment_id: UUID, command: FollowUpCreate, actor: Actor,
                  key: IdempotencyKey | None = None) -> Outcome[FollowUpPublic]:
        """Staff who reach the visit book its follow-up (or wait for one) for its patient."""
        if actor.role is Role.patient:
            raise ForbiddenError("A follow-up is booked by the visit's provider or the front "
                                 "desk.")

        def create(derived_id: UUID | None) -> FollowUpPublic:
            visit = self.bookings.visits.reachable(appointment_id, actor)
            start = visit.start + timedelta(days=command.after_days)
            end = start + timedelta(days=command.within_days)
            with acting_as(actor.doing("follow-up")):
                for slot in self.bookings.holding.slots.open_between(
                        visit.provider_id, visit.clinic_id, visit.service_id, start, end,
                        CANDIDATES):
                    if self.bookings.holding.holds.holding(slot.slot_id) is not None:
                        continue
                    try:
                        booked = self.bookings.book_slot(visit.patient_id, slot, "",
                                                         datetime.now(UTC), derived_id)
                    except DuplicateAppointmentError as first:  # a retry whose answer was lost
                        booked = self.bookings.visits.appointment(first.appointment_id)
                    except ConflictError:  # taken, no longer offered, or the patient is busy
                        continue
                    return FollowUpPublic(booking=BookingPublic.of(booked))
                entry = WaitlistEntry.join(visit.patient_id, visit.service_id,
                                           [visit.clinic_id], visit.provider_id, start, end,
                                           None, datetime.now(UTC), id=derived_id)
                if not self.bookings.app.saved(entry):  # a retry whose answer was lost
                    entry = self.bookings.app.get(WaitlistEntry, entry.id, "waitlist entry")
            return FollowUpPublic(waitlist_entry=WaitlistEntryPublic.of(entry))

        return run_once(self.bookings.idempotency, key, FOLLOW_UP, command, FollowUpPublic,
                        create)
