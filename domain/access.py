"""Who may do what: the roles of people using the clinic system and their scopes.

A token carries its role's scopes; every protected route asks for exactly one scope.
docs/access.md lists, per route, the roles whose scopes allow it.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    patient = "patient"
    provider = "provider"
    front_desk = "front_desk"
    compliance = "compliance"
    analyst = "analyst"
    admin = "admin"


class Scope(StrEnum):
    profile_read = "profile:read"
    directory_write = "directory:write"
    availability_write = "availability:write"
    bookings_read = "bookings:read"
    bookings_write = "bookings:write"
    bookings_cancel = "bookings:cancel"
    patients_read = "patients:read"
    audit_read = "audit:read"
    events_read = "events:read"
    analytics_read = "analytics:read"
    messages_read = "messages:read"
    visits_manage = "visits:manage"
    patients_write = "patients:write"
    schedule_read = "schedule:read"
    patients_erase = "patients:erase"
    webhooks_manage = "webhooks:manage"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.patient: frozenset(
        {Scope.profile_read, Scope.bookings_read, Scope.bookings_write, Scope.bookings_cancel,
         Scope.patients_read, Scope.patients_write}
    ),
    Role.provider: frozenset(
        {Scope.profile_read, Scope.availability_write, Scope.bookings_read,
         Scope.bookings_cancel, Scope.patients_read, Scope.visits_manage, Scope.schedule_read}
    ),
    Role.front_desk: frozenset(
        {Scope.profile_read, Scope.bookings_read, Scope.bookings_write, Scope.bookings_cancel,
         Scope.patients_read, Scope.patients_write, Scope.visits_manage, Scope.schedule_read}
    ),
    Role.compliance: frozenset(
        {Scope.profile_read, Scope.audit_read, Scope.events_read, Scope.messages_read}
    ),
    Role.analyst: frozenset({Scope.profile_read, Scope.analytics_read}),
    Role.admin: frozenset(
        {
            Scope.profile_read,
            Scope.directory_write,
            Scope.availability_write,
            Scope.bookings_read,
            Scope.bookings_write,
            Scope.bookings_cancel,
            Scope.messages_read,
            Scope.patients_read,
            Scope.patients_write,
            Scope.visits_manage,
            Scope.schedule_read,
            Scope.patients_erase,
            Scope.webhooks_manage,
        }
    ),
}


def roles_with(scope: Scope) -> list[Role]:
    return [role for role in Role if scope in ROLE_SCOPES[role]]


class PurposeOfUse(StrEnum):
    """Why PHI is used (after HL7 PurposeOfUse), recorded with every command and PHI read.
    Callers state it in the `X-Purpose-Of-Use` header; each role has a default."""

    treatment = "treatment"
    emergency = "emergency"
    payment = "payment"
    operations = "operations"
    patient_request = "patient-request"
    compliance = "compliance"
    legal = "legal"


DEFAULT_PURPOSE: dict[Role | None, PurposeOfUse] = {
    None: PurposeOfUse.patient_request,  # signed out: registration, sign-in, holds
    Role.patient: PurposeOfUse.patient_request,
    Role.provider: PurposeOfUse.treatment,
    Role.front_desk: PurposeOfUse.operations,
    Role.compliance: PurposeOfUse.compliance,
    Role.analyst: PurposeOfUse.operations,
    Role.admin: PurposeOfUse.operations,
}
