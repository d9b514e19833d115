"""Slots offered per schedule and clinic-local hour, for the analytics' slot supply.

The slots are cut by slot search's own function (projections/slot_search.py: each service the
provider offers at the clinic, in a modality the clinic offers, by domain/slots.py), so the
analytics count exactly the slots search lists before any is booked. Like open minutes
(projections/capacity.py) they are decided from events only: a publication or rules change
sets the days it opens, the daily roll adds days, and a change of the directory (a service's
length, a provider's services or clinics, a clinic's modalities) sets the days from the day it
was recorded on; earlier days keep what they offered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.availability import AvailabilityRules
from domain.clinics import Clinic
from domain.local_time import local_day
from domain.providers import Provider
from domain.services import Service
from projections.slot_search import OfferedService, ScheduleContext, slot_rows

if TYPE_CHECKING:  # capacity.py uses this module
    from projections.capacity import ScheduleState

HourCounts = dict[tuple[date, int], int]  # (clinic-local date, hour) -> slots


class OfferWriter(Protocol):
    def schedules(self) -> list[ScheduleState]: ...
    def clinic_modalities(self, clinic_id: UUID, modalities: list[str]) -> None: ...
    def service(self, service_id: UUID, duration_minutes: int, modality: str) -> None: ...
    def provider(self, provider_id: UUID, clinic_ids: list[UUID],
                 service_ids: list[UUID]) -> None: ...
    def providers_offering(self, service_id: UUID) -> set[UUID]: ...
    def offering(self, provider_id: UUID,
                 clinic_id: UUID) -> tuple[list[str], list[OfferedService]]:
        """The clinic's modalities, and the services the provider offers there (none once
        the provider no longer works at the clinic), as slot search reads them."""

    def offered_slots(self, state: ScheduleState, days: list[date],
                      counts: HourCounts) -> None:
        """Set the slots offered per hour of these clinic-local days of the schedule."""


def offered_per_hour(context: ScheduleContext, days: list[date]) -> HourCounts:
    """Slot starts per clinic-local date and hour (an hour lived twice counts both passes)."""
    zone = ZoneInfo(context.time_zone)
    return dict(Counter((row.local_start.date(), row.local_start.hour)
                        for row in slot_rows(context, zone, days)))


def offer_days(writer: OfferWriter, state: ScheduleState, rules: AvailabilityRules,
               days: list[date]) -> None:
    modalities, services = writer.offering(state.provider_id, state.clinic_id)
    context = ScheduleContext(state.schedule_id, state.provider_id, state.clinic_id, rules,
                              state.time_zone, modalities, services)
    writer.offered_slots(state, days, offered_per_hour(context, days))


def apply_directory(writer: OfferWriter, event: Any) -> None:
    """Record what slot cutting needs of the directory; on a revision, re-cut the affected
    schedules' days from the clinic-local day of the change through the days already
    filled. A registration touches no schedule: a schedule names a provider and a clinic
    registered before it, whose services were registered before them."""
    oid = event.originator_id
    if isinstance(event, Clinic.Registered | Clinic.Revised):
        writer.clinic_modalities(oid, list(event.modalities))
        touched = _schedules(writer, event, lambda s: s.clinic_id == oid)
    elif isinstance(event, Service.Registered | Service.Revised):
        writer.service(oid, event.duration_minutes, event.modality)
        if isinstance(event, Service.Revised) and (offering := writer.providers_offering(oid)):
            touched = [s for s in writer.schedules() if s.provider_id in offering]
        else:
            touched = []
    elif isinstance(event, Provider.Registered | Provider.Revised):
        writer.provider(oid, list(event.clinic_ids), list(event.service_ids))
        touched = _schedules(writer, event, lambda s: s.provider_id == oid)
    else:
        return
    for state in touched:
        _recut(writer, state, event.timestamp)


def _schedules(writer: OfferWriter, event: Any,
               affected: Callable[[ScheduleState], bool]) -> list[ScheduleState]:
    if isinstance(event, Clinic.Registered | Provider.Registered):
        return []
    return [state for state in writer.schedules() if affected(state)]


def _recut(writer: OfferWriter, state: ScheduleState, at: datetime) -> None:
    first = local_day(at, ZoneInfo(state.time_zone))
    if state.filled_through is None or state.filled_through < first:
        return
    days = [first + timedelta(days=n) for n in range((state.filled_through - first).days + 1)]
    offer_days(writer, state, AvailabilityRules.from_dict(state.rules), days)
