"""Holds: keep a slot for a few minutes while the patient signs in and confirms.

A hold makes checkout pleasant; it is not the guarantee against double booking (the
calendars in the event store are: docs/decisions/0008-booking-consistency.md).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from commands.context import Actor
from commands.models import Strict
from commands.ports import HoldLimitReached, Holds, SlotCatalog, SlotInfo
from domain.calendars import SlotTakenError
from domain.errors import ConflictError, LimitReachedError, NotFoundError


class SlotHeldError(ConflictError):
    code = "slot-held"


class HoldNotFoundError(NotFoundError):
    code = "hold-not-found"


class HoldLimitError(LimitReachedError):
    code = "hold-limit"


class HoldExtensionLimitError(ConflictError):
    code = "hold-extension-limit"


MAX_EXTENSIONS = 10  # WCAG 2.2 SC 2.2.1: a time limit the user can extend at least ten times


class HoldCreate(Strict):
    slot_id: UUID


class HoldPublic(BaseModel):
    hold_id: UUID
    hold_secret: str
    slot_id: UUID
    expires_at: datetime


class HoldProof(Strict):
    """Booking a held slot: which hold, and its secret."""

    hold_id: UUID | None = None
    hold_secret: Annotated[str | None, Field(max_length=100)] = None


class Holding:
    def __init__(self, slots: SlotCatalog, holds: Holds, *, ttl_seconds: int,
                 max_per_holder: int) -> None:
        self.slots, self.holds = slots, holds
        self.ttl_ms, self.max_per_holder = ttl_seconds * 1000, max_per_holder

    def hold(self, command: HoldCreate, actor: Actor, address_pseudonym: str) -> HoldPublic:
        """Signed-in callers hold as themselves; others by a pseudonym of their address."""
        slot = self.slots.slot(command.slot_id)
        if slot is None or slot.book_by < datetime.now(UTC):
            raise NotFoundError(f"no bookable slot with id {command.slot_id}")
        if slot.taken:  # as the booking would refuse it, rather than held for nothing
            raise SlotTakenError("That time is already booked; please pick another.")
        holder = f"{actor.role.value}:{actor.subject}" if actor.role else \
            f"ip:{address_pseudonym}"
        secret = secrets.token_urlsafe(24)
        try:
            hold = self.holds.place(command.slot_id, holder, secret_hash(secret), self.ttl_ms,
                                    self.max_per_holder)
        except HoldLimitReached as exc:
            raise HoldLimitError("You hold as many slots as allowed; release one or wait for "
                                 "one to expire.", retry_after=exc.retry_after) from None
        if hold is None:
            raise SlotHeldError("Someone else is holding that time.")
        return HoldPublic(hold_id=hold.hold_id, hold_secret=secret, slot_id=hold.slot_id,
                          expires_at=hold.expires_at)

    def release(self, slot_id: UUID, hold_id: UUID, secret: str) -> None:
        """Give a held slot back: only its holder, who proves it with the secret."""
        self.check(slot_id, hold_id, secret)
        self.holds.release(slot_id, hold_id)

    def extend(self, slot_id: UUID, hold_id: UUID, secret: str) -> HoldPublic:
        """Keep a held time longer ("keep my time"): the hold's full time again, from now,
        at most MAX_EXTENSIONS times; only its holder, who proves it with the secret."""
        self.check(slot_id, hold_id, secret)
        expires = self.holds.extend(slot_id, hold_id, self.ttl_ms, MAX_EXTENSIONS)
        if expires is None:
            raise HoldNotFoundError("That hold has expired or was released.")
        if expires is False:
            raise HoldExtensionLimitError(
                f"This time was kept {MAX_EXTENSIONS} times already; book it now or pick "
                "another time.")
        assert isinstance(expires, datetime)
        return HoldPublic(hold_id=hold_id, hold_secret=secret, slot_id=slot_id,
                          expires_at=expires)

    def bookable(self, slot_id: UUID, proof: HoldProof) -> SlotInfo:
        """The slot to book: held by this caller (with a proof), or held by no one."""
        slot = self.slots.slot(slot_id)
        if slot is None:
            raise NotFoundError(f"no slot with id {slot_id}")
        if proof.hold_id is not None:
            self.check(slot_id, proof.hold_id, proof.hold_secret or "")
        elif self.holds.holding(slot_id) is not None:
            raise SlotHeldError("Someone else is holding that time.")
        return slot

    def check(self, slot_id: UUID, hold_id: UUID, secret: str) -> None:
        """The hold exists and the caller proves it is theirs."""
        current = self.holds.holding(slot_id)
        if current is None or current[0].hold_id != hold_id:
            raise HoldNotFoundError("That hold has expired or was released.")
        if not secrets.compare_digest(current[1], secret_hash(secret)):
            raise SlotHeldError("That hold belongs to someone else.")

    def used(self, slot_id: UUID, proof: HoldProof) -> None:
        """The held slot is booked: the hold is done (and the holder's allowance back)."""
        if proof.hold_id is not None:
            self.holds.release(slot_id, proof.hold_id)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
