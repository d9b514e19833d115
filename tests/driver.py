"""The use cases as test scripts call them: plain values in, ids out, as one actor (the
system unless told). A thin translation like any door's, so that a test reads as a clinic
story; every call goes through the same use case an HTTP route calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from commands.application import ClinicApplication
from commands.consents import ConsentGrant
from commands.context import SYSTEM_ACTOR, Actor
from commands.models import (
    AddressIn,
    AvailabilityIn,
    ClinicCreate,
    ClinicUpdate,
    ProviderCreate,
    ServiceCreate,
)
from commands.patients import ContactUpdate, PatientCreate
from commands.ports import SlotInfo
from commands.sign_in import CodeVerification
from commands.use_cases import Adapters, Policy, UseCases
from domain.appointments import Appointment
from domain.availability import AvailabilityRules
from domain.clinics import Address, Clinic
from domain.consent import POLICIES, Consent, Purpose
from domain.modality import Modality
from domain.patients import ErasureBasis, Patient
from domain.providers import Provider
from domain.services import Service
from infra.settings import Settings


class ClinicDriver:
    def __init__(self, use_cases: UseCases, actor: Actor = SYSTEM_ACTOR,
                 close: Callable[[], None] | None = None) -> None:
        self.use_cases, self.actor = use_cases, actor
        self.app = use_cases.directory.app
        self._close = close or self.app.close

    def close(self) -> None:
        self._close()

    def __getattr__(self, name: str) -> Any:
        """The event store itself (recorder, mapper, repository, name) for what a test
        inspects underneath the use cases."""
        return getattr(self.app, name)

    # Directory -----------------------------------------------------------------------
    def register_clinic(self, name: str, address: Address, time_zone: str,
                        modalities: list[Modality], id: UUID | None = None) -> UUID:
        command = ClinicCreate(name=name, address=AddressIn(**address.as_dict()),
                               time_zone=time_zone, modalities=modalities)
        return self.use_cases.directory.register_clinic(command, self.actor, id=id).id

    def revise_clinic(self, clinic_id: UUID, name: str, address: Address,
                      modalities: list[Modality]) -> None:
        command = ClinicUpdate(name=name, address=AddressIn(**address.as_dict()),
                               modalities=modalities)
        self.use_cases.directory.revise_clinic(clinic_id, command, self.actor)

    def register_service(self, name: str, minutes: int, modality: Modality) -> UUID:
        command = ServiceCreate(name=name, duration_minutes=minutes, modality=modality)
        return self.use_cases.directory.register_service(command, self.actor).id

    def revise_service(self, service_id: UUID, name: str, minutes: int,
                       modality: Modality) -> None:
        command = ServiceCreate(name=name, duration_minutes=minutes, modality=modality)
        self.use_cases.directory.revise_service(service_id, command, self.actor)

    def register_provider(self, name: str, clinic_ids: list[UUID],
                          service_ids: list[UUID]) -> UUID:
        command = ProviderCreate(display_name=name, clinic_ids=clinic_ids,
                                 service_ids=service_ids)
        return self.use_cases.directory.register_provider(command, self.actor).id

    def revise_provider(self, provider_id: UUID, name: str, clinic_ids: list[UUID],
                        service_ids: list[UUID]) -> None:
        command = ProviderCreate(display_name=name, clinic_ids=clinic_ids,
                                 service_ids=service_ids)
        self.use_cases.directory.revise_provider(provider_id, command, self.actor)

    def publish_availability(self, provider_id: UUID, clinic_id: UUID,
                             rules: AvailabilityRules) -> UUID:
        command = AvailabilityIn.model_validate(rules.as_dict())
        return self.use_cases.directory.publish_availability(provider_id, clinic_id, command,
                                                             self.actor).id

    def clinic(self, clinic_id: UUID) -> Clinic:
        return self.use_cases.directory.clinic(clinic_id)

    def service(self, service_id: UUID) -> Service:
        return self.use_cases.directory.service(service_id)

    def provider(self, provider_id: UUID) -> Provider:
        return self.use_cases.directory.provider(provider_id)

    # Patients ------------------------------------------------------------------------
    def register_patient(self, given_name: str, family_name: str, birth_date: date,
                         email: str, phone: str | None) -> tuple[UUID, bool]:
        """(patient id, created?): an address already registered keeps its patient."""
        known = self.use_cases.patients.patient_for_email(email)
        command = PatientCreate(given_name=given_name, family_name=family_name,
                                birth_date=birth_date, email=email, phone=phone)
        patient_id = self.use_cases.patients.register(command, self.actor).result.patient_id
        return patient_id, known is None

    def verify_patient_email(self, patient_id: UUID) -> None:
        """Signs in with a code issued now (the address counts as verified)."""
        sign_in = self.use_cases.sign_in
        email = self.patient(patient_id).email
        code = sign_in.codes.issue(patient_id)
        sign_in.verify(CodeVerification(email=email, code=code), self.actor)

    def change_contact_details(self, patient_id: UUID, email: str, phone: str | None) -> None:
        self.use_cases.patients.change_contact(patient_id, ContactUpdate(email=email,
                                                                         phone=phone),
                                               self.actor)

    def grant_consent(self, patient_id: UUID, purpose: Purpose, policy_version: str,
                      method: str = "web") -> Consent:
        grant = ConsentGrant(purpose=purpose, policy_version=policy_version)
        self.use_cases.consents.grant(patient_id, grant, self.actor, method)
        consent = self.use_cases.consents.consent(patient_id, purpose)
        assert consent is not None
        return consent

    def ready_patient(self, given_name: str, family_name: str, email: str,
                      purposes: tuple[Purpose, ...] = (Purpose.treatment,)) -> UUID:
        """Registered, verified and consenting: ready to book."""
        patient_id, _ = self.register_patient(given_name, family_name, date(1990, 1, 1),
                                              email, None)
        self.verify_patient_email(patient_id)
        for purpose in purposes:
            self.grant_consent(patient_id, purpose, POLICIES[purpose].version)
        return patient_id

    def patient(self, patient_id: UUID) -> Patient:
        return self.use_cases.patients.patient(patient_id)

    def patient_for_email(self, email: str) -> UUID | None:
        return self.use_cases.patients.patient_for_email(email)

    def record_erasure(self, patient_id: UUID, basis: ErasureBasis) -> bool:
        return self.use_cases.erasing.record(patient_id, basis)

    def shred_personal_data(self, patient_id: UUID) -> None:
        self.use_cases.erasing.shred(patient_id)

    # Booking -------------------------------------------------------------------------
    def book(self, patient_id: UUID, slot: SlotInfo, reason: str, now: datetime,
             appointment_id: UUID | None = None) -> Appointment:
        return self.use_cases.bookings.book_slot(patient_id, slot, reason, now, appointment_id)

    def reschedule(self, appointment_id: UUID, slot: SlotInfo, now: datetime) -> Appointment:
        return self.use_cases.bookings.reschedule_to(appointment_id, slot, now)

    def cancel(self, appointment_id: UUID, now: datetime, note: str = "") -> Appointment:
        return self.use_cases.visits.cancel(appointment_id, now, note)

    def mark_no_show(self, appointment_id: UUID, now: datetime) -> Appointment:
        return self.use_cases.visits.no_show_at(appointment_id, now)

    def appointment(self, appointment_id: UUID) -> Appointment:
        return self.use_cases.visits.appointment(appointment_id)

    def record_reminder_due(self, appointment_id: UUID, offset: timedelta,
                            start: datetime) -> bool:
        return self.use_cases.reminders.record_due(appointment_id, offset, start)


class HasUseCases(Protocol):
    use_cases: UseCases
    adapters: Adapters
    policy: Policy


def drive(container: HasUseCases, actor: Actor = SYSTEM_ACTOR,
          app: ClinicApplication | None = None) -> ClinicDriver:
    """The driver over a container's use cases; with `app`, the same use cases and adapters
    over another application (another process's, in a race)."""
    if app is None:
        return ClinicDriver(container.use_cases, actor)
    return ClinicDriver(UseCases.compose(app, container.adapters, container.policy), actor)


def seeding_driver(settings: Settings) -> ClinicDriver:
    """For a benchmark that seeds its servers before it starts the API: the use cases as
    the composition root builds them (infra/wiring/container.py); close() closes it all."""
    from infra.wiring.container import Container

    container = Container.build(settings)
    return ClinicDriver(container.use_cases, close=container.close)
