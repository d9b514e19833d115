"""Record-level access: whose records a caller may reach. One policy for every door.

Scopes (domain/access.py) say which kinds of action a role may take; this says on whose
records. A patient reaches only their own; a provider only their own visits and the patients
they treat (minimum necessary); staff the visits at their own clinics and the patients who
have visits there (HIPAA "minimum necessary": the `clinics` of their token; an admin without
it is the network's). Another clinic's records need the `emergency` purpose of use
(break-glass, flagged in the access audit). Someone else's record looks absent
(HiddenRecordError: a 404 that the access audit records as a refusal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol
from uuid import UUID

from domain.access import PurposeOfUse, Role
from domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from domain.telehealth import Participant


class Caller(Protocol):
    @property
    def subject(self) -> str: ...

    @property
    def role(self) -> Role | None: ...

    @property
    def purpose(self) -> str: ...

    @property
    def clinics(self) -> frozenset[UUID] | None: ...


def break_glass(caller: Caller) -> bool:
    """Staff stating an emergency reach beyond their clinics (and the audit says so)."""
    return caller.purpose == PurposeOfUse.emergency.value


def reaches_clinic(caller: Caller, clinic_id: UUID) -> bool:
    return caller.clinics is None or clinic_id in caller.clinics or break_glass(caller)


def clinics_in_reach(caller: Caller) -> frozenset[UUID] | None:
    """The clinics whose records the caller reaches; None: every clinic."""
    return None if break_glass(caller) else caller.clinics


def require_clinic(caller: Caller, clinic_id: UUID) -> None:
    """Staff act at their own clinics (or in an emergency)."""
    if not reaches_clinic(caller, clinic_id):
        raise ForbiddenError("That clinic is not one of yours; in an emergency, say so with "
                             "X-Purpose-Of-Use: emergency.")


class HiddenRecordError(NotFoundError):
    """Someone else's record: answered as if it did not exist, audited as a refusal."""

    denied = True


Treats = Callable[[str, UUID], bool]  # (provider's subject, patient id): a visit with them?
VisitsAt = Callable[[frozenset[UUID], UUID], bool]  # (clinics, patient id): a visit there?


def require_patient(caller: Caller, patient_id: UUID, treats: Treats,
                    visits_at: VisitsAt) -> None:
    """A patient's own record; a provider's patient's; staff: a patient with a visit at
    one of their clinics (any patient in an emergency, or for a network admin)."""
    if caller.role is Role.patient:
        allowed = caller.subject == str(patient_id)
    elif caller.role is Role.provider:
        allowed = treats(caller.subject, patient_id)
    else:
        reach = clinics_in_reach(caller)
        allowed = reach is None or visits_at(reach, patient_id)
    if not allowed:
        raise HiddenRecordError(f"no patient with id {patient_id}")


def may_see_appointment(caller: Caller, patient_id: UUID, provider_id: UUID,
                        clinic_id: UUID) -> bool:
    owner = {Role.patient: patient_id, Role.provider: provider_id}
    if caller.role in owner:
        return str(owner[caller.role]) == caller.subject
    return reaches_clinic(caller, clinic_id)


def require_appointment(caller: Caller, appointment_id: UUID, patient_id: UUID,
                        provider_id: UUID, clinic_id: UUID) -> None:
    """A patient's own visits, a provider's visits with them; staff: their clinics'."""
    if not may_see_appointment(caller, patient_id, provider_id, clinic_id):
        raise HiddenRecordError(f"no appointment with id {appointment_id}")


def require_waitlist_entry(caller: Caller, entry_id: UUID, patient_id: UUID,
                           clinic_ids: list[UUID], provider_id: UUID | None) -> None:
    """A patient's own entries; a provider's when the entry names them; staff: entries for
    one of their clinics, or for any clinic (an empty list asks every clinic)."""
    if caller.role is Role.patient:
        allowed = caller.subject == str(patient_id)
    elif caller.role is Role.provider:
        allowed = caller.subject == str(provider_id)
    else:
        reach = clinics_in_reach(caller)
        allowed = reach is None or not clinic_ids or bool(reach.intersection(clinic_ids))
    if not allowed:
        raise HiddenRecordError(f"no waitlist entry with id {entry_id}")


def require_participant(caller: Caller, appointment_id: UUID, patient_id: UUID,
                        provider_id: UUID) -> Participant:
    """Only a visit's own patient and provider take part in it; to anyone else (staff
    included) there is no join link."""
    participants = {Role.patient: patient_id, Role.provider: provider_id}
    role = caller.role
    if role is None or str(participants.get(role, "")) != caller.subject:
        raise HiddenRecordError(f"no join link for appointment {appointment_id}")
    return Participant(role.value)


def patient_to_book_for(caller: Caller, named: UUID | None) -> UUID:
    """Patients book for themselves; staff name the patient."""
    if caller.role is Role.patient:
        if named is not None and str(named) != caller.subject:
            raise HiddenRecordError(f"no patient with id {named}")
        return UUID(caller.subject)
    if named is None:
        raise InvalidInputError("Staff bookings name the patient_id.")
    return named


def require_may_exceed_visit_limit(caller: Caller) -> None:
    """Booking beyond a patient's limit of upcoming visits is the front desk's (or an
    admin's) call, recorded with who made it; never the patient's own."""
    if caller.role not in (Role.front_desk, Role.admin):
        raise ForbiddenError("Only the front desk may book beyond the limit of upcoming visits.")


def require_own_hours(caller: Caller, provider_id: UUID) -> None:
    if caller.role is Role.provider and caller.subject != str(provider_id):
        raise ForbiddenError("Providers may change only their own hours.")


def require_own_schedule(caller: Caller, provider_id: UUID) -> None:
    if caller.role is Role.provider and caller.subject != str(provider_id):
        raise ForbiddenError("Providers see only their own schedule.")


def require_patients_list(caller: Caller, patient_id: UUID) -> UUID | None:
    """Whose visits a patient's list shows: a patient's own (all of them), a provider's
    visits with that patient only (the provider's id), staff all (None) at the clinics in
    their reach (clinics_in_reach)."""
    if caller.role is Role.patient and caller.subject != str(patient_id):
        raise HiddenRecordError(f"no patient with id {patient_id}")
    return _subject_id(caller) if caller.role is Role.provider else None


class AppointmentScope(NamedTuple):
    """The conditions a caller's appointment search is held to (None: no condition)."""

    patient_id: UUID | None
    provider_id: UUID | None
    clinics: frozenset[UUID] | None


def appointment_search_scope(caller: Caller, patient_id: UUID | None,
                             provider_id: UUID | None,
                             clinic_id: UUID | None) -> AppointmentScope:
    """Whose appointments a search by patient, practitioner or location returns: a patient
    their own whatever they name, a provider their own visits, staff their clinics' (a
    named clinic must be one of theirs)."""
    own_visits = None
    # Break-glass opens one patient's records, never a clinic's or a provider's whole list:
    # without a patient, a search stays within the caller's own clinics.
    clinics = clinics_in_reach(caller) if patient_id is not None else caller.clinics
    if patient_id is not None:
        own_visits = require_patients_list(caller, patient_id)
    elif caller.role is Role.patient:
        patient_id = _subject_id(caller)
    if provider_id is not None:
        require_own_schedule(caller, provider_id)
    elif caller.role is Role.provider:
        provider_id = own_visits or _subject_id(caller)
    if clinic_id is not None:
        require_clinic(caller, clinic_id)
        if clinics is not None and clinic_id not in clinics:
            raise ForbiddenError("In an emergency, search one patient's appointments "
                                 "(patient=): another clinic's list is not break-glass.")
    return AppointmentScope(patient_id, provider_id, clinics)


def _subject_id(caller: Caller) -> UUID:
    try:
        return UUID(caller.subject)
    except ValueError:
        return UUID(int=0)  # a subject that is no record id reaches nothing
