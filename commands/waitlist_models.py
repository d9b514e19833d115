"""The waitlist's command and answer models: joining, an entry's urgency, accepting an offer,
and an entry as the API shows it (commands/waitlist.py runs them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from commands.inputs import IsoDateTime
from commands.models import Strict
from domain.waitlist import MAX_PRIORITY, WaitlistEntry


class WaitlistJoin(Strict):
    service_id: UUID
    clinic_ids: Annotated[list[UUID], Field(
        default_factory=list, max_length=20,
        description="Clinics the patient can go to; empty: any (video visits)")]
    provider_id: Annotated[UUID | None, Field(description="Only this provider")] = None
    not_before: Annotated[IsoDateTime | None, Field(
        description="The visit starts no earlier (default: now)")] = None
    not_after: Annotated[IsoDateTime, Field(description="The visit ends by then; the entry "
                                                        "expires at this time")]
    instead_of: Annotated[UUID | None, Field(
        description="A booked visit of the patient: an accepted offer moves it earlier "
                    "(same provider, service and clinic)")] = None
    patient_id: Annotated[UUID | None, Field(description="Staff only: for whom")] = None


class PriorityChange(Strict):
    priority: Annotated[int, Field(ge=0, le=MAX_PRIORITY,
                                   description="Clinical urgency: 0 routine .. 9 most urgent")]


class OfferAcceptance(Strict):
    offer_id: UUID


class OfferPublic(BaseModel):
    offer_id: UUID
    slot_id: UUID
    start: datetime
    end: datetime
    expires_at: datetime


class WaitlistEntryPublic(BaseModel):
    id: UUID
    patient_id: UUID
    service_id: UUID
    clinic_ids: list[UUID]
    provider_id: UUID | None
    not_before: datetime
    not_after: datetime
    instead_of: UUID | None
    priority: int
    status: str
    offer: OfferPublic | None = None
    appointment_id: UUID | None = None
    joined_at: datetime

    @classmethod
    def of(cls, entry: WaitlistEntry) -> WaitlistEntryPublic:
        offer = None if entry.offer is None else OfferPublic(
            offer_id=entry.offer.offer_id, slot_id=entry.offer.slot_id,
            start=entry.offer.start, end=entry.offer.end, expires_at=entry.offer.expires_at)
        return cls(id=entry.id, patient_id=entry.patient_id, service_id=entry.service_id,
                   clinic_ids=entry.clinic_ids, provider_id=entry.provider_id,
                   not_before=entry.not_before, not_after=entry.not_after,
                   instead_of=entry.instead_of, priority=entry.priority,
                   status=entry.status.value, offer=offer, appointment_id=entry.appointment_id,
                   joined_at=entry.created_on)
