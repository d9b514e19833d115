"""The audit timeline's decisions (projections/timeline.py): every event type has its own
one-line summary, no summary holds PHI (a patient's life with PHI markers in every field),
and each event is indexed under the records it is about."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from commands.context import SYSTEM_ACTOR
from domain import (
    agendas,
    appointments,
    calendars,
    clinics,
    consent,
    openings,
    patients,
    providers,
    reminders,
    schedules,
    services,
    waitlist,
)
from domain.consent import POLICIES, Purpose
from domain.patients import ErasureBasis
from projections.timeline import _SUMMARIES, entry_of
from tests.builders import ALL_DAY, build_world, first_slot, rules
from tests.driver import ClinicDriver
from tests.fakes import in_memory_use_cases

MARKERS = ("Givmark", "Fammark", "mailmark", "555 0199", "1961-07-13", "Rsnmark", "Notemark")
MODULES = (agendas, appointments, calendars, clinics, consent, openings, patients, providers,
           reminders, schedules, services, waitlist)


def _event_types() -> list[type[Any]]:
    found = []
    for module in MODULES:
        for aggregate in vars(module).values():
            if inspect.isclass(aggregate) and issubclass(aggregate, Aggregate) and \
                    aggregate.__module__ == module.__name__:
                found += [kind for name, kind in vars(aggregate).items()
                          if inspect.isclass(kind) and issubclass(kind, Aggregate.Event)
                          and name not in ("Event", "Created")]
    return found


def test_every_event_type_has_its_own_summary() -> None:
    kinds = _event_types()
    assert len(kinds) > 30
    missing = [k.__qualname__ for k in kinds if k not in _SUMMARIES]
    assert missing == []


def test_a_patients_life_is_indexed_without_phi() -> None:
    app = ClinicDriver(in_memory_use_cases(), SYSTEM_ACTOR)
    world = build_world(app)
    doctor, clinic = world.second_provider, world.second_clinic
    app.publish_availability(doctor, clinic, rules(ALL_DAY, min_notice_minutes=0))
    patient, _ = app.register_patient("Givmark", "Fammark", date(1961, 7, 13),
                                      "mailmark@example.org", "+1 555 0199")
    app.verify_patient_email(patient)
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    slot = first_slot(app, doctor, clinic, world.checkup, datetime.now(UTC) + timedelta(days=2))
    visit = app.book(patient, slot, "Rsnmark knee", datetime.now(UTC)).id
    app.change_contact_details(patient, "mailmark2@example.org", "+1 555 0199")
    app.cancel(visit, datetime.now(UTC), note="Notemark better")
    app.record_erasure(patient, ErasureBasis.request)

    store = app.use_cases.patients.app
    entries = [entry_of(n.id, store.mapper.to_domain_event(n))
               for n in store.recorder.select_notifications(start=1, limit=10_000)]
    booked = next(e for e in entries if e.event == "Appointment.Booked")
    assert booked.named == {patient, doctor, clinic, world.checkup}
    assert booked.links == booked.named and booked.patient_id == patient
    cancelled = next(e for e in entries if e.event == "Appointment.Cancelled")
    assert cancelled.record_id == visit and cancelled.links == frozenset()
    assert all(e.patient_id == patient for e in entries if e.event.startswith("Patient."))
    reserved = next(e for e in entries if e.event == "ProviderCalendar.Reserved")
    assert reserved.named == {visit, clinic} and reserved.patient_id is None
    text = repr(entries)
    assert "Rsnmark" in repr([store.mapper.to_domain_event(n) for n in
                              store.recorder.select_notifications(start=1, limit=10_000)])
    for marker in MARKERS:
        assert marker not in text, marker
