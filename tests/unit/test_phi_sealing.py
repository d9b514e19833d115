"""PHI is sealed per patient in the stored form of events and snapshots, opens only where it
was sealed, and reads as erased once the patient's key is shredded."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from domain.patients import ErasureBasis, Patient
from domain.privacy import ERASED
from infra.crypto.kek import KeyEncryptionKeyError, KeyRing
from infra.crypto.phi import SEALED_KEY, SHREDDED, PhiCipher
from tests.driver import ClinicDriver
from tests.fakes import InMemoryDataKeys, in_memory_application, in_memory_use_cases


def _register(app, given_name: str = "Zorblax", email: str = "zorblax@example.org"):  # type: ignore[no-untyped-def]
    patient_id, _ = app.register_patient(given_name, "Quuxley", date(1970, 2, 3), email,
                                         "+1 555 0100")
    return patient_id


def test_stored_patient_events_hold_no_phi_and_read_back_whole() -> None:
    app = ClinicDriver(in_memory_use_cases())
    patient_id = _register(app)
    app.change_contact_details(patient_id, "new-zorblax@example.org", "+1 555 0199")
    stored = app.recorder.select_events(patient_id)
    for record in stored:
        for secret in (b"Zorblax", b"Quuxley", b"1970-02-03", b"zorblax@", b"555 01"):
            assert secret not in record.state
    assert SEALED_KEY.encode() in stored[0].state
    patient = app.patient(patient_id)
    assert (patient.given_name, patient.email, patient.phone) == (
        "Zorblax", "new-zorblax@example.org", "+1 555 0199")


def test_snapshots_are_sealed_too() -> None:
    app = ClinicDriver(in_memory_use_cases(in_memory_application(snapshots=True)))
    patient_id = _register(app)
    app.take_snapshot(patient_id)
    assert app.snapshots is not None
    snapshot = app.snapshots.recorder.select_events(patient_id)[0]
    assert b"Zorblax" not in snapshot.state and SEALED_KEY.encode() in snapshot.state
    assert app.repository.get(patient_id).given_name == "Zorblax"


def test_shredding_the_key_erases_every_copy_while_the_log_still_replays() -> None:
    app = ClinicDriver(in_memory_use_cases())
    patient_id = _register(app)
    other = _register(app, "Mirelle", "mirelle@example.org")
    assert app.record_erasure(patient_id, ErasureBasis.request)
    assert not app.record_erasure(patient_id, ErasureBasis.request)  # repeatable
    app.shred_personal_data(patient_id)
    app.shred_personal_data(patient_id)
    erased: Patient = app.repository.get(patient_id)
    assert erased.erased and erased.given_name == ERASED and erased.email == ERASED
    events = [app.mapper.to_domain_event(n) for n in
              app.recorder.select_notifications(start=1, limit=1000)]
    assert [type(e).__name__ for e in events if e.originator_id == patient_id][-1] == "Erased"
    assert app.patient(other).given_name == "Mirelle"
    # The address is free again, for a new patient.
    again, created = app.register_patient("New", "Person", date(1990, 1, 1),
                                          "zorblax@example.org", None)
    assert created and again != patient_id


@given(st.text(max_size=200), st.sampled_from(["a", "b"]))
def test_an_envelope_opens_only_in_its_own_context(value: str, where: str) -> None:
    cipher = PhiCipher(InMemoryDataKeys())
    subject = uuid.uuid4()
    envelope = cipher.seal(subject, value, f"context-{where}")
    assert cipher.open(envelope, f"context-{where}") == value
    with pytest.raises(InvalidTag):
        cipher.open(envelope, "context-elsewhere")
    cipher.shred(subject)
    assert cipher.open(envelope, f"context-{where}") is SHREDDED


def test_a_wrapped_data_key_opens_only_with_its_kek_and_subject() -> None:
    old, new = os.urandom(32), os.urandom(32)
    subject, data_key = uuid.uuid4(), os.urandom(32)
    kek_id, wrapped = KeyRing(old).wrap(subject, data_key)
    assert KeyRing(new, previous=(old,)).unwrap(subject, kek_id, wrapped) == data_key
    with pytest.raises(KeyEncryptionKeyError, match="not configured"):
        KeyRing(new).unwrap(subject, kek_id, wrapped)
    with pytest.raises(KeyEncryptionKeyError, match="does not open"):
        KeyRing(old).unwrap(uuid.uuid4(), kek_id, wrapped)


def test_a_visit_of_an_erased_patient_can_still_be_cancelled_and_nothing_new_is_kept() -> None:
    """A booking that raced the erasure must not become impossible to cancel."""
    from datetime import UTC, datetime, timedelta

    from domain.appointments import Appointment
    from domain.clinics import Address
    from domain.consent import POLICIES, Purpose
    from domain.modality import Modality
    from tests.builders import ALL_DAY, first_slot, rules

    app = ClinicDriver(in_memory_use_cases())
    clinic = app.register_clinic("C", Address("1 A St", "Town", "IL", "60601"),
                                 "America/Chicago", [Modality.in_person])
    service = app.register_service("Visit", 30, Modality.in_person)
    provider = app.register_provider("Dr", [clinic], [service])
    patient_id = _register(app)
    app.verify_patient_email(patient_id)
    app.grant_consent(patient_id, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    app.publish_availability(provider, clinic, rules(ALL_DAY))
    slot = first_slot(app, provider, clinic, service, datetime.now(UTC) + timedelta(days=3))
    visit = app.book(patient_id, slot, "Zorblax's secret reason", datetime.now(UTC))
    app.record_erasure(patient_id, ErasureBasis.request)
    app.shred_personal_data(patient_id)
    cancelled = app.cancel(visit.id, datetime.now(UTC), note="Zorblax called")
    stored = app.recorder.select_events(visit.id)
    assert all(b"Zorblax" not in e.state for e in stored)
    reread: Appointment = app.repository.get(visit.id)
    assert reread.status.value == "cancelled" and cancelled.status == reread.status
    assert reread.reason == ERASED


def test_a_follower_that_does_not_open_phi_reads_it_sealed_and_cannot_record_it() -> None:
    from infra.crypto.phi import SEALED
    from infra.eventstore.mapper import ClinicMapper, PhiCipherMissingError

    app = ClinicDriver(in_memory_use_cases())
    patient_id = _register(app)
    mapper = app.mapper
    assert isinstance(mapper, ClinicMapper)
    mapper.open_phi = False
    patient = app.repository.get(patient_id)
    assert (patient.given_name, patient.email) == (SEALED, SEALED)  # nothing decrypted
    patient.change_contact_details("other@example.org", None)
    with pytest.raises(PhiCipherMissingError):
        app.save(patient)
    mapper.open_phi = True
    assert app.patient(patient_id).given_name == "Zorblax"
