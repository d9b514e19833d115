"""Recordable text (domain/text.py): what every text field of every command must be, checked
by the domain's value objects as well as at the HTTP edge (issue "Hardening", item 1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from domain.appointments import Appointment
from domain.clinics import Address, Clinic
from domain.modality import Modality
from domain.patients import Patient, normalized_email
from domain.providers import Provider
from domain.services import Service
from domain.text import InvalidTextError, plain_text, text_problem

REFUSED = {
    "NUL": "a\x00b", "escape": "\x1b[31m", "DEL": "a\x7f", "C1 next line": "a\x85b",
    "lone high surrogate": "a\ud800", "lone low surrogate": "\udfffa",
    "right-to-left override": "abc\u202edcba", "isolate": "\u2066x\u2069",
    "decomposed accent": "Jose\u0301",
}
ACCEPTED = ["José", "Zoë O'Brien-Łukasiewicz", "山田 太郎", "محمد", "👩🏽‍⚕️ Dr. Ada", "ß",
            "\U0010fffd", "a\u200db"]


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_text_that_cannot_be_recorded_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidTextError) as refused:
        plain_text(text, "the given name")
    assert str(refused.value).startswith("the given name ")
    assert text not in str(refused.value)  # the message never echoes the input


@pytest.mark.parametrize("text", ACCEPTED)
def test_any_language_and_emoji_are_recorded_as_sent(text: str) -> None:
    assert plain_text(text, "the name") == text


def test_line_breaks_and_tabs_are_kept_only_in_multi_line_text() -> None:
    assert plain_text("first line\nsecond\ttabbed\r\n", "the note", multiline=True)
    assert text_problem("first\nsecond") is not None
    assert text_problem("trailing line break\n") is not None
    assert text_problem("a\x00b", multiline=True) is not None


def test_every_value_object_refuses_unrecordable_text() -> None:
    today = date(2026, 12, 7)
    refusals = [
        lambda: Clinic.register("Har\x00bor", Address("1 Main", "Boston", "MA", "02110"),
                                "America/New_York", [Modality.in_person]),
        lambda: Address("1 Main", "Boston", "MA", "021\x0010"),
        lambda: Clinic.register("Harbor", Address("1 Main", "Boston", "MA", "02110"),
                                "America/New\x00York", [Modality.in_person]),
        lambda: Service.register("Check\ud800up", 30, Modality.in_person),
        lambda: Provider.register("Dr. \u202eenO", [uuid4()], [uuid4()]),
        lambda: normalized_email("n\x00ul@example.org"),
        lambda: Patient.register(uuid4(), "Ana\x00", "Lima",
                                 date(1990, 1, 1), "ana@example.org", None, today),
        lambda: Patient.register(uuid4(), "Ana", "Lima",
                                 date(1990, 1, 1), "ana@example.org", "555\x00 0100", today),
    ]
    for refuse in refusals:
        with pytest.raises(InvalidTextError):
            refuse()


def test_a_visit_reason_and_a_cancellation_note_are_checked_too() -> None:
    start = datetime(2030, 1, 1, 15, tzinfo=UTC)
    fields = dict(patient_id=uuid4(), provider_id=uuid4(), clinic_id=uuid4(),
                  service_id=uuid4(), slot_id=uuid4(), start=start,
                  end=start + timedelta(minutes=30), modality="in_person")
    with pytest.raises(InvalidTextError):
        Appointment.book(**fields, reason="cough\x00")
    appointment = Appointment.book(**fields, reason="cough\nsince Monday")
    with pytest.raises(InvalidTextError):
        appointment.cancel(start - timedelta(days=1), timedelta(hours=24), "\ud83d")
