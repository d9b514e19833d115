"""Directory use cases: clinics, services, providers and their published hours."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from commands.booking import BookingUseCases
from domain.availability import AvailabilityRules
from domain.clinics import Address, Clinic, valid_time_zone
from domain.errors import RuleViolationError
from domain.modality import Modality
from domain.providers import Provider
from domain.schedules import Schedule
from domain.services import Service


class DirectoryUseCases(BookingUseCases):
    """Directory changes check bookings (a rule change may not strand a booked visit)."""

    # Clinics ---------------------------------------------------------------------------
    def register_clinic(self, name: str, address: Address, time_zone: str,
                        modalities: list[Modality], id: UUID | None = None) -> UUID:
        clinic = Clinic.register(name, address, time_zone, modalities, id=id)
        self.save(clinic)
        return clinic.id

    def revise_clinic(self, clinic_id: UUID, name: str, address: Address,
                      modalities: list[Modality]) -> None:
        clinic = self.clinic(clinic_id)
        clinic.revise(name, address, modalities)
        self.save(clinic)

    def clinic(self, clinic_id: UUID) -> Clinic:
        return self._get(Clinic, clinic_id, "clinic")

    # Services --------------------------------------------------------------------------
    def register_service(self, name: str, duration_minutes: int, modality: Modality,
                         id: UUID | None = None) -> UUID:
        service = Service.register(name, duration_minutes, modality, id=id)
        self.save(service)
        return service.id

    def revise_service(self, service_id: UUID, name: str, duration_minutes: int,
                       modality: Modality) -> None:
        service = self.service(service_id)
        service.revise(name, duration_minutes, modality)
        self.save(service)

    def service(self, service_id: UUID) -> Service:
        return self._get(Service, service_id, "service")

    # Providers -------------------------------------------------------------------------
    def register_provider(self, display_name: str, clinic_ids: list[UUID],
                          service_ids: list[UUID], id: UUID | None = None) -> UUID:
        self._require_all(clinic_ids, service_ids)
        provider = Provider.register(display_name, clinic_ids, service_ids, id=id)
        self.save(provider)
        return provider.id

    def revise_provider(self, provider_id: UUID, display_name: str, clinic_ids: list[UUID],
                        service_ids: list[UUID]) -> None:
        provider = self.provider(provider_id)
        self._require_all(clinic_ids, service_ids)
        provider.revise(display_name, clinic_ids, service_ids)
        self.save(provider)

    def provider(self, provider_id: UUID) -> Provider:
        return self._get(Provider, provider_id, "provider")

    # Availability ----------------------------------------------------------------------
    def publish_availability(self, provider_id: UUID, clinic_id: UUID,
                             rules: AvailabilityRules) -> UUID:
        """Set a provider's hours at a clinic; refused if booked visits would be stranded."""
        provider, clinic = self.provider(provider_id), self.clinic(clinic_id)
        if not provider.works_at(clinic_id):
            raise RuleViolationError(f"provider {provider_id} does not work at clinic {clinic_id}")
        schedule_id = Schedule.create_id(provider_id, clinic_id)
        schedule = self._find(Schedule, schedule_id)
        if schedule is None:
            schedule = Schedule(provider_id=provider_id, clinic_id=clinic_id,
                                rules=rules.as_dict())
        else:
            booked = self.booked_at(provider_id, clinic_id, datetime.now(UTC),
                                    max(schedule.rules.horizon_days, rules.horizon_days))
            schedule.change_rules(rules, valid_time_zone(clinic.time_zone), booked)
        self.save(schedule)
        return schedule.id

    def schedule(self, provider_id: UUID, clinic_id: UUID) -> Schedule:
        return self._get(Schedule, Schedule.create_id(provider_id, clinic_id), "availability")

    def _require_all(self, clinic_ids: list[UUID], service_ids: list[UUID]) -> None:
        for clinic_id in clinic_ids:
            self.clinic(clinic_id)
        for service_id in service_ids:
            self.service(service_id)
