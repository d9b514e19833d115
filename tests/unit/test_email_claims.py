"""One patient per email address: a change of address moves the claim (both claims are
read together, commands/patients.py), and an address another patient holds is refused."""

from __future__ import annotations

from datetime import date

import pytest

from domain.patients import EmailTakenError
from tests.driver import ClinicDriver
from tests.fakes import in_memory_use_cases


def test_changing_the_address_moves_the_claim_and_frees_the_old_one() -> None:
    app = ClinicDriver(in_memory_use_cases())
    ana, _ = app.register_patient("Ana", "Lima", date(1990, 1, 2), "ana@example.org", None)
    app.change_contact_details(ana, "Ana.New@Example.org", None)
    assert app.patient_for_email("ana.new@example.org") == ana
    assert app.patient_for_email("ana@example.org") is None
    bob, created = app.register_patient("Bob", "Reis", date(1991, 3, 4), "ana@example.org",
                                        None)
    assert created and bob != ana
    assert app.patient_for_email("ana@example.org") == bob


def test_an_address_held_by_another_patient_is_refused_and_nothing_changes() -> None:
    app = ClinicDriver(in_memory_use_cases())
    ana, _ = app.register_patient("Ana", "Lima", date(1990, 1, 2), "ana@example.org", None)
    bob, _ = app.register_patient("Bob", "Reis", date(1991, 3, 4), "bob@example.org", None)
    with pytest.raises(EmailTakenError):
        app.change_contact_details(bob, "ana@example.org", None)
    assert app.patient(bob).email == "bob@example.org"
    assert app.patient_for_email("ana@example.org") == ana
    assert app.patient_for_email("bob@example.org") == bob
