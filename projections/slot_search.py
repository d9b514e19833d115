"""The slot-search read model: directory rows and open slots, from the event log.

A booked appointment takes its time away from every slot of that provider that overlaps it
(any service, any clinic); a cancellation or a move gives the time back.

This module decides *what* changes for each event; the PostgreSQL writer
(infra/postgres/slot_search.py) decides *how*. Slots are regenerated per schedule
(one provider at one clinic) whenever anything they depend on changes, and daily as the
booking horizon rolls forward.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.appointments import Appointment
from domain.availability import AvailabilityRules
from domain.clinics import Clinic
from domain.local_time import wall_time
from domain.providers import Provider
from domain.schedules import Schedule
from domain.services import Service
from domain.slots import slot_id, slot_times


@dataclass(frozen=True)
class OfferedService:
    service_id: UUID
    duration_minutes: int
    modality: str


@dataclass(frozen=True)
class ScheduleContext:
    """Everything slot generation needs about one schedule, as the read model knows it."""

    schedule_id: UUID
    provider_id: UUID
    clinic_id: UUID
    rules: AvailabilityRules
    time_zone: str
    clinic_modalities: list[str]
    services: list[OfferedService]  # empty when the provider no longer works at the clinic


@dataclass(frozen=True)
class SlotRow:
    slot_id: UUID
    schedule_id: UUID
    provider_id: UUID
    clinic_id: UUID
    service_id: UUID
    modality: str
    start_at: datetime
    end_at: datetime
    local_start: datetime
    local_end: datetime
    time_zone: str
    book_by: datetime


class SlotSearchWriter(Protocol):
    """One transaction's worth of writes to the slot-search tables."""

    def upsert_clinic(self, clinic_id: UUID, data: dict[str, Any], at: datetime) -> None: ...
    def upsert_service(self, service_id: UUID, data: dict[str, Any], at: datetime) -> None: ...
    def upsert_provider(self, provider_id: UUID, data: dict[str, Any], at: datetime) -> None: ...
    def upsert_schedule(self, schedule_id: UUID, provider_id: UUID, clinic_id: UUID,
                        rules: dict[str, Any], at: datetime) -> None: ...
    def change_schedule_rules(self, schedule_id: UUID, rules: dict[str, Any],
                              at: datetime) -> None: ...
    def schedules_of(self, *, provider_id: UUID | None = None, clinic_id: UUID | None = None,
                     service_id: UUID | None = None) -> list[UUID]: ...
    def schedule_context(self, schedule_id: UUID) -> ScheduleContext | None: ...
    def replace_open_slots(self, schedule_id: UUID, rows: Sequence[SlotRow],
                           generated_through: date) -> None: ...
    def block(self, provider_id: UUID, clinic_id: UUID | None, appointment_id: UUID,
              start: datetime, end: datetime) -> None:
        """Take the visit's time and its schedule's buffers from search."""
    def unblock(self, appointment_id: UUID) -> tuple[UUID, UUID | None] | None:
        """Give the appointment's time back; return its provider and clinic (None if
        unknown)."""


def apply_events(writer: SlotSearchWriter, events: Iterable[Any],
                 now: datetime) -> None:
    """Update directory rows for each event, then regenerate every touched schedule once."""
    dirty: set[UUID] = set()
    for event in events:
        dirty.update(_apply(writer, event))
    for schedule_id in sorted(dirty):
        regenerate(writer, schedule_id, now)


def _apply(writer: SlotSearchWriter, event: Any) -> list[UUID]:
    at, oid = event.timestamp, event.originator_id
    if isinstance(event, Clinic.Registered | Clinic.Revised):
        data = {"name": event.name, "address": event.address,
                "modalities": event.modalities}
        if isinstance(event, Clinic.Registered):
            data["time_zone"] = event.time_zone
        writer.upsert_clinic(oid, data, at)
        return writer.schedules_of(clinic_id=oid)
    if isinstance(event, Service.Registered | Service.Revised):
        writer.upsert_service(oid, {"name": event.name, "modality": event.modality,
                                    "duration_minutes": event.duration_minutes}, at)
        return writer.schedules_of(service_id=oid)
    if isinstance(event, Provider.Registered | Provider.Revised):
        writer.upsert_provider(oid, {"display_name": event.display_name,
                                     "clinic_ids": event.clinic_ids,
                                     "service_ids": event.service_ids}, at)
        return writer.schedules_of(provider_id=oid)
    if isinstance(event, Schedule.Published):
        writer.upsert_schedule(oid, event.provider_id, event.clinic_id, event.rules, at)
        return [oid]
    if isinstance(event, Schedule.RulesChanged):
        writer.change_schedule_rules(oid, event.rules, at)
        return [oid]
    if isinstance(event, Appointment.Booked):
        writer.block(event.provider_id, event.clinic_id, oid, event.start, event.end)
    elif isinstance(event, Appointment.Rescheduled):
        held = writer.unblock(oid)
        if held is not None:
            writer.block(*held, oid, event.start, event.end)
    elif isinstance(event, Appointment.HandedOff):
        held = writer.unblock(oid)
        writer.block(event.to_provider_id, held[1] if held else None, oid, event.start,
                     event.end)
    elif isinstance(event, Appointment.Cancelled):
        writer.unblock(oid)
    return []


def regenerate(writer: SlotSearchWriter, schedule_id: UUID, now: datetime) -> None:
    context = writer.schedule_context(schedule_id)
    if context is None:
        return
    zone = ZoneInfo(context.time_zone)
    today = wall_time(now, zone).date()
    days = context.rules.bookable_days(today)
    rows = list(slot_rows(context, zone, days))
    writer.replace_open_slots(schedule_id, rows, days[-1])


def slot_rows(context: ScheduleContext, zone: ZoneInfo, days: list[date]) -> Iterable[SlotRow]:
    notice = timedelta(minutes=context.rules.min_notice_minutes)
    for service in context.services:
        if service.modality not in context.clinic_modalities:
            continue
        for slot in slot_times(context.rules, zone, service.duration_minutes, days):
            yield SlotRow(
                slot_id=slot_id(context.schedule_id, service.service_id, slot.start),
                schedule_id=context.schedule_id, provider_id=context.provider_id,
                clinic_id=context.clinic_id, service_id=service.service_id,
                modality=service.modality, start_at=slot.start, end_at=slot.end,
                local_start=wall_time(slot.start, zone), local_end=wall_time(slot.end, zone),
                time_zone=context.time_zone, book_by=slot.start - notice,
            )

