"""Every domain event field whose name looks like PHI is declared PHI (`phi = PHI(...)`), so
the mapper seals it. The PHI canary (tests/e2e/test_phi_canary.py) only sees the events its
journey produces; this test sees every event class in domain/, including ones no journey
reaches yet. Directory data about clinics, providers and services is not about a patient and
is listed below, by aggregate, with that reason."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re

from eventsourcing.domain import DomainEvent

import domain
from domain.privacy import phi_of

LOOKS_LIKE_PHI = re.compile(r"name|given|family|birth|email|phone|reason|note|address|"
                            r"comment|message|symptom|diagnos")
# Public directory data: the names and addresses of clinics, providers and services.
NOT_ABOUT_A_PATIENT = {
    "Clinic": {"name", "address"},
    "Provider": {"display_name"},
    "Service": {"name"},
}


def _domain_events() -> dict[str, type[DomainEvent]]:
    """Event classes nested in the domain's aggregates, by qualified name."""
    found: dict[str, type[DomainEvent]] = {}
    for module_info in pkgutil.iter_modules(domain.__path__):
        module = importlib.import_module(f"{domain.__name__}.{module_info.name}")
        for _, owner in inspect.getmembers(module, inspect.isclass):
            if owner.__module__ != module.__name__:
                continue
            for _, kind in inspect.getmembers(owner, inspect.isclass):
                if issubclass(kind, DomainEvent) and kind.__module__ == module.__name__:
                    found[kind.__qualname__] = kind
    return found


def _fields(kind: type[DomainEvent]) -> set[str]:
    assert dataclasses.is_dataclass(kind), kind
    return {field.name for field in dataclasses.fields(kind)}


def test_every_event_field_that_looks_like_phi_is_declared_phi() -> None:
    events = _domain_events()
    assert {"Patient.Registered", "Appointment.Booked", "Clinic.Registered"} <= set(events)
    undeclared = []
    for qualname, kind in sorted(events.items()):
        declared = phi_of(kind)
        exempt = NOT_ABOUT_A_PATIENT.get(qualname.split(".")[0], set())
        for name in sorted(_fields(kind)):
            if LOOKS_LIKE_PHI.search(name) and name not in exempt and (
                    declared is None or name not in declared.fields):
                undeclared.append(f"{qualname}.{name}")
    assert not undeclared, (f"declare these PHI (phi = PHI(...), domain/privacy.py) or, if "
                            f"they are not about a patient, say why here: {undeclared}")


def test_phi_declarations_name_real_fields_and_whose_data_they_are() -> None:
    """A misspelt declaration would seal nothing; a wrong subject, the wrong key."""
    declaring = {q: k for q, k in _domain_events().items() if phi_of(k) is not None}
    assert {"Patient.Registered", "Patient.ContactDetailsChanged", "Appointment.Booked",
            "Appointment.Cancelled"} <= set(declaring)
    for qualname, kind in declaring.items():
        declared = phi_of(kind)
        assert declared is not None
        fields = _fields(kind)
        assert declared.fields <= fields, f"{qualname} declares {declared.fields - fields}"
        assert declared.subject in fields, f"{qualname}: no field {declared.subject}"


def test_the_exemptions_are_still_fields_of_their_events() -> None:
    """An exemption left behind after a rename would quietly exempt the next field of that
    name: each one must still exist."""
    events = _domain_events()
    for aggregate, names in NOT_ABOUT_A_PATIENT.items():
        present = set().union(*(_fields(k) for q, k in events.items()
                                if q.split(".")[0] == aggregate))
        assert names <= present, f"{aggregate}: {names - present} no longer exist"
