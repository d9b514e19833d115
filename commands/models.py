"""Request bodies of the write side (pydantic): validated at the edge, then domain types."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from commands.inputs import PlainText
from domain.agendas import NoShowRule
from domain.availability import AvailabilityRules
from domain.clinics import Address
from domain.modality import Modality

Name = Annotated[PlainText, Field(min_length=1, max_length=200)]
PolicySource = Literal["clinic", "default"]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$", examples=["09:00"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(Strict):
    line: Annotated[PlainText, Field(min_length=1, max_length=200)]
    city: Annotated[PlainText, Field(min_length=1, max_length=100)]
    state: Annotated[PlainText, Field(min_length=2, max_length=50)]
    postal_code: Annotated[PlainText, Field(min_length=3, max_length=20)]
    country: Annotated[PlainText, Field(min_length=2, max_length=2)] = "US"

    def to_domain(self) -> Address:
        return Address(**self.model_dump())


class ClinicCreate(Strict):
    name: Name
    address: AddressIn
    time_zone: Annotated[PlainText, Field(max_length=64, examples=["America/Chicago"])]
    modalities: Annotated[list[Modality], Field(min_length=1, max_length=2)]


class ClinicUpdate(Strict):
    name: Name
    address: AddressIn
    modalities: Annotated[list[Modality], Field(min_length=1, max_length=2)]


class NoShowPolicyIn(Strict):
    """A clinic's own no-show rule (docs/attendance.md)."""

    no_shows: Annotated[int, Field(ge=0, le=100, description="Missed visits that start the "
                                                             "rule; 0 switches it off")]
    within_days: Annotated[int, Field(ge=1, le=3650, description="Counted over this window")]
    upcoming: Annotated[int, Field(ge=0, le=50, description="Then at most this many upcoming "
                                                            "visits; 0: no lower limit")]
    confirm: Annotated[bool, Field(description="Then each visit booked a day or more ahead "
                                               "must be confirmed")]
    release_hours: Annotated[int, Field(ge=1, le=23, description="An unconfirmed visit is "
                                                                 "released this long before "
                                                                 "its start")]

    def to_domain(self) -> NoShowRule:
        return NoShowRule(self.no_shows, timedelta(days=self.within_days), self.upcoming,
                          self.confirm, timedelta(hours=self.release_hours))


class NoShowPolicyPublic(NoShowPolicyIn):
    clinic_id: UUID
    source: Annotated[PolicySource, Field(
        description="The clinic's own rule, or the deployment's default")]

    @classmethod
    def of(cls, clinic_id: UUID, rule: NoShowRule,
           source: PolicySource) -> NoShowPolicyPublic:
        return cls(clinic_id=clinic_id, source=source, no_shows=rule.no_shows,
                   within_days=rule.within.days, upcoming=rule.upcoming, confirm=rule.confirm,
                   release_hours=int(rule.release_before.total_seconds() // 3600))


class ServiceCreate(Strict):
    name: Name
    duration_minutes: Annotated[int, Field(ge=5, le=480)]
    modality: Modality


class ProviderCreate(Strict):
    display_name: Name
    clinic_ids: Annotated[list[UUID], Field(min_length=1, max_length=50)]
    service_ids: Annotated[list[UUID], Field(min_length=1, max_length=50)]


TimeRange = Annotated[list[HHMM], Field(min_length=2, max_length=2,
                                        examples=[["09:00", "12:00"]])]
DayHours = Annotated[list[TimeRange], Field(max_length=12)]


class Weekly(Strict):
    monday: DayHours = []
    tuesday: DayHours = []
    wednesday: DayHours = []
    thursday: DayHours = []
    friday: DayHours = []
    saturday: DayHours = []
    sunday: DayHours = []


class DateExceptionIn(Strict):
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-25"])]
    kind: Annotated[str, Field(pattern="^(off|extra)$")]
    intervals: Annotated[list[TimeRange], Field(max_length=12)] = []


class AvailabilityIn(Strict):
    """Weekly hours and dated exceptions in the clinic's local time."""

    weekly: Weekly
    exceptions: Annotated[list[DateExceptionIn], Field(max_length=400)] = []
    granularity_minutes: Annotated[int, Field(ge=5, le=240)] = 15
    buffer_before_minutes: Annotated[int, Field(ge=0, le=120)] = 0
    buffer_after_minutes: Annotated[int, Field(ge=0, le=120)] = 0
    horizon_days: Annotated[int, Field(ge=1, le=365)] = 30
    min_notice_minutes: Annotated[int, Field(ge=0, le=43200)] = 60

    def to_domain(self) -> AvailabilityRules:
        data: dict[str, Any] = self.model_dump()
        return AvailabilityRules.from_dict(data)
