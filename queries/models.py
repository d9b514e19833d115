"""Response bodies of the read side: plain data, no PHI."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class ClinicPublic(BaseModel):
    id: UUID
    name: str
    address: dict[str, str]
    time_zone: str
    modalities: list[str]


class ServicePublic(BaseModel):
    id: UUID
    name: str
    duration_minutes: int
    modality: str


class ProviderPublic(BaseModel):
    id: UUID
    display_name: str
    clinic_ids: list[UUID]
    service_ids: list[UUID]


class AvailabilityPublic(BaseModel):
    schedule_id: UUID
    provider_id: UUID
    clinic_id: UUID
    rules: dict[str, Any]


class Ref(BaseModel):
    id: UUID
    name: str


class SlotPublic(BaseModel):
    id: UUID
    schedule_id: UUID  # the provider's published hours at the clinic (FHIR Schedule)
    start: datetime
    end: datetime
    clinic_local_start: datetime
    clinic_local_end: datetime
    clinic_time_zone: str
    display_start: datetime
    display_end: datetime
    display_time_zone: str
    modality: str
    clinic: Ref
    provider: Ref
    service: Ref
    duration_minutes: int


class SlotPage(BaseModel):
    slots: list[SlotPublic]
    next_cursor: str | None = Field(description=(
        "Pass as `cursor` for the next page; null when no later time matches. A page can "
        "hold fewer slots than `limit` (even none) while others hold many of the times "
        "read for it: follow the cursor until it is null."))


class AppointmentView(BaseModel):
    id: UUID
    patient_id: UUID
    provider_id: UUID
    provider_name: str
    clinic_id: UUID
    clinic_name: str
    clinic_time_zone: str
    service_id: UUID
    service_name: str
    slot_id: UUID
    start: datetime
    end: datetime
    clinic_local_start: datetime
    modality: str
    status: str
    late_cancellation: bool
    reschedule_count: int
    booked_at: datetime
    version: int = Field(1, description="The appointment's version (ETag, If-Match: "
                                        "decision 0046)")
    confirm_by: datetime | None = Field(
        None, description="After repeated no-shows: confirm the visit before then or it is "
                          "released (docs/attendance.md); null: nothing to do")


class AppointmentDetails(AppointmentView):
    reason: str
    late_cancellation_from: datetime | None = Field(
        None, description="From then on, cancelling counts as a late cancellation (the "
                          "clinic's cut-off before the start)")
