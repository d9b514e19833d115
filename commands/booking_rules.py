"""What a booking must respect before it is written, checked on the event store's own
records (never the read model that found the slot: decision 0037): the slot still offered by
the directory and the provider's rules, a colleague who takes a visit able to, a patient
verified and consenting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from commands.ports import SlotInfo
from domain.appointments import Appointment
from domain.clinics import Clinic, valid_time_zone
from domain.consent import Consent, ConsentRequiredError, Purpose
from domain.errors import NotFoundError, RuleViolationError
from domain.modality import Modality
from domain.patients import Patient
from domain.providers import Provider
from domain.schedules import Schedule, outside_hours
from domain.slots import SlotUnavailableError, require_offered


class UnverifiedPatientError(RuleViolationError):
    code = "email-not-verified"



def offering(slot: SlotInfo) -> tuple[UUID, ...]:
    """What says whether the slot is still offered: its clinic, service, provider and the
    provider's rules there (the schedule last: it is what a retry reads again)."""
    return (slot.clinic_id, slot.service_id, slot.provider_id,
            Schedule.create_id(slot.provider_id, slot.clinic_id))


def still_offered(loaded: dict[UUID, Any], slot: SlotInfo,
             now: datetime) -> tuple[timedelta, timedelta]:
    """The slot is still offered by the event store's own directory and rules, whatever
    the read model that found it says (decision 0037); its buffers."""
    clinic, service, provider, schedule = (loaded.get(i) for i in offering(slot))
    if clinic is None or service is None or provider is None or schedule is None or \
            not provider.works_at(slot.clinic_id) or \
            slot.service_id not in provider.service_ids or \
            service.modality != slot.modality or \
            not clinic.offers(Modality(service.modality)):
        raise SlotUnavailableError("the provider no longer offers that time")
    rules = schedule.rules
    require_offered(rules, valid_time_zone(clinic.time_zone), service.duration_minutes,
                    slot.start, slot.end, now)
    return (timedelta(minutes=rules.buffer_before_minutes),
            timedelta(minutes=rules.buffer_after_minutes))


def covering(loaded: dict[UUID, Any], appointment: Appointment,
            provider_id: UUID) -> tuple[timedelta, timedelta]:
    """The provider who takes a visit works at its clinic, offers its service and has hours
    that cover its time; their buffers."""
    provider = loaded.get(provider_id)
    clinic = loaded.get(appointment.clinic_id)
    schedule = loaded.get(Schedule.create_id(provider_id, appointment.clinic_id))
    if not isinstance(provider, Provider) or not isinstance(clinic, Clinic):
        raise NotFoundError(f"no provider with id {provider_id}")
    if not provider.works_at(appointment.clinic_id) or \
            appointment.service_id not in provider.service_ids:
        raise RuleViolationError("that provider does not offer this visit at its clinic")
    if schedule is None or outside_hours(schedule.rules, valid_time_zone(clinic.time_zone),
                                         [(appointment.start, appointment.end)]):
        raise SlotUnavailableError("that provider does not work at the time of the visit")
    rules = schedule.rules
    return (timedelta(minutes=rules.buffer_before_minutes),
            timedelta(minutes=rules.buffer_after_minutes))


def require_bookable(patient: Patient, consents: dict[Purpose, Consent | None]) -> None:
    if not patient.email_verified:
        raise UnverifiedPatientError("verify your email address before booking")
    for purpose, consent in consents.items():
        if consent is None or not consent.is_current():
            raise ConsentRequiredError(
                f"a current {purpose.value} consent is needed to book this visit")
