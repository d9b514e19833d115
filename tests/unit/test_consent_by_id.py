"""A consent answer read by its id (FHIR's `Consent/{id}`) is reached exactly as its
patient's list of answers is (`Consents.receipts`): by the patient themself and staff; to
anyone else it is absent, hidden as someone else's record (a 404 the audit records as a
refusal), and an erased patient's is gone."""

from __future__ import annotations

import uuid

import pytest

from commands.context import Actor
from commands.erasure import ErasureRequest
from domain.access import Role
from domain.consent import Consent, Purpose
from domain.errors import NotFoundError
from domain.patients import ErasureBasis, PatientErasedError
from domain.record_access import HiddenRecordError
from tests.unit.test_use_cases import ADMIN, Clinic


def test_a_consent_by_id_is_reached_as_its_patients_list_is() -> None:
    world = Clinic()
    ana, bo = world.patient("ana@example.org"), world.patient("bo@example.org")
    patient_id = uuid.UUID(ana.subject)
    consent_id = Consent.create_id(patient_id, Purpose.treatment.value)
    consents = world.uc.consents
    own = consents.receipt(consent_id, ana)
    assert own.receipt["consent_id"] == str(consent_id)
    assert own == consents.receipts(patient_id, ana)[0]  # the same signed answer
    assert consents.receipt(consent_id, Actor("desk", Role.front_desk)) == own
    for stranger in (bo, Actor(str(world.provider), Role.provider)):  # no visit together
        with pytest.raises(HiddenRecordError):
            consents.receipt(consent_id, stranger)
    with pytest.raises(NotFoundError) as unknown:
        consents.receipt(uuid.uuid4(), ana)
    assert not isinstance(unknown.value, HiddenRecordError)  # nothing to hide: no refusal

    world.uc.erasing.erase(patient_id, ErasureRequest(basis=ErasureBasis.request), ADMIN)
    with pytest.raises(PatientErasedError):
        consents.receipt(consent_id, ADMIN)
