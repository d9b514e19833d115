"""Replay as a timeline (issue "Compliance officers", item 3): a scripted life of one
patient — register, consent, book, reschedule, cancel, erase — replays into the expected
timeline of changes merged with the PHI reads, with no PHI unless a purpose is stated (and
then that look is itself recorded); each step's record matches `audit state --as-of`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from commands.audit import WITHHELD, plain_state
from commands.context import Actor
from commands.timeline import InvalidCursorError, TimelineItem, TimelineOf
from domain.access import PurposeOfUse, Role
from domain.consent import POLICIES, Purpose
from domain.patients import ErasureBasis
from domain.privacy import ERASED
from infra.wiring.container import Container
from tests.builders import ALL_DAY, build_world, first_slot, rules
from tests.driver import drive
from tests.e2e.clinic_flow import project_all

OFFICER = Actor("officer-7", Role.compliance, request_id="req-officer",
                purpose=PurposeOfUse.compliance.value)
DESK = Actor("desk-9", Role.front_desk, request_id="req-desk", purpose="operations")


def _all(container: Container, of: TimelineOf, subject: object,
         purpose: PurposeOfUse | None = None, page: int = 3) -> list[TimelineItem]:
    """Every item, a few per page (the cursor is exercised on every step)."""
    items: list[TimelineItem] = []
    cursor = None
    while True:
        got = container.use_cases.timeline.page(of, str(subject), OFFICER, cursor=cursor,
                                                limit=page, show_phi_for=purpose)
        items += got.items
        if got.next_cursor is None:
            return items
        cursor = got.next_cursor


def test_a_patients_life_replays_into_its_timeline(container: Container) -> None:
    app = drive(container)
    world = build_world(app)
    doctor, clinic = world.second_provider, world.second_clinic
    app.publish_availability(doctor, clinic, rules(ALL_DAY, min_notice_minutes=0))
    steps: dict[str, tuple[datetime, dict[str, Any], dict[str, Any] | None]] = {}

    def step(name: str, patient: UUID, visit: UUID | None = None) -> None:
        repo = container.app.repository
        steps[name] = (datetime.now(UTC), plain_state(vars(repo.get(patient))),
                       plain_state(vars(repo.get(visit))) if visit else None)

    patient, _ = app.register_patient("Tilda", "Timeline", date(1966, 6, 6),
                                      "tilda@example.org", None)
    step("registered", patient)
    app.verify_patient_email(patient)
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    step("consented", patient)
    first = first_slot(app, doctor, clinic, world.checkup, datetime.now(UTC) + timedelta(days=2))
    visit = app.book(patient, first, "Rsnmarker knee", datetime.now(UTC)).id
    step("booked", patient, visit)
    later = first_slot(app, doctor, clinic, world.checkup, first.start + timedelta(hours=3))
    app.reschedule(visit, later, datetime.now(UTC))
    step("rescheduled", patient, visit)
    container.use_cases.bookings.cancel(visit, "Notemarker called", DESK)
    step("cancelled", patient, visit)
    app.record_erasure(patient, ErasureBasis.request)
    app.shred_personal_data(patient)
    project_all(container)

    items = _all(container, TimelineOf.patient, patient)
    changes = [i for i in items if i.kind == "change"]
    assert [i.event for i in changes if i.event.split(".")[0] in (
        "Patient", "Consent", "Appointment")] == [
        "Patient.Registered", "Patient.SignInCodeRequested", "Patient.EmailVerified",
        "Consent.Granted",
        "Appointment.Booked", "Appointment.Rescheduled", "Appointment.Cancelled",
        "Patient.Erased"]
    assert {i.event for i in changes} >= {"EmailClaim.Claimed", "PatientAgenda.Reserved",
                                          "PatientAgenda.Released"}
    assert not any(i.event.startswith("ProviderCalendar.") for i in changes)  # the doctor's
    assert [i.at for i in items] == sorted(i.at for i in items)
    cancelled = next(i for i in changes if i.event == "Appointment.Cancelled")
    assert (cancelled.actor, cancelled.role, cancelled.purpose, cancelled.request_id) == (
        "desk-9", "front_desk", "operations", "req-desk")
    assert cancelled.record_id == str(visit) and cancelled.description == "cancelled the visit"
    booked = next(i for i in changes if i.event == "Appointment.Booked")
    assert str(doctor) in booked.description and str(clinic) in booked.description
    text = repr(items)
    for phi in ("Tilda", "tilda@example.org", "Rsnmarker", "Notemarker", "1966-06-06"):
        assert phi not in text  # no PHI without a stated purpose
    assert all(i.phi is None for i in items)

    # The appointment's own timeline: its events and the calendars' reservations for it.
    visit_items = _all(container, TimelineOf.appointment, visit)
    assert [i.event for i in visit_items if i.event and i.event.startswith("Appointment.")] \
        == ["Appointment.Booked", "Appointment.Rescheduled", "Appointment.Cancelled"]
    assert any(i.event == "ProviderCalendar.Reserved" for i in visit_items)
    assert any(i.event == "Appointment.Cancelled" for i in _all(container, TimelineOf.actor,
                                                                 "desk-9"))

    # A stated purpose shows the PHI the events hold (erased: shredded), and records the look.
    shown = _all(container, TimelineOf.appointment, visit, PurposeOfUse.legal, page=50)
    assert next(i for i in shown if i.event == "Appointment.Booked").phi == {"reason": ERASED}
    after = _all(container, TimelineOf.patient, patient)
    looks = [i for i in after if i.kind == "access"]
    assert looks and looks[-1].actor == "officer-7" and looks[-1].purpose == "legal"
    assert looks[-1].description == "read timeline (phi-shown)"
    assert [i.position for i in after if i.kind == "change"] == [i.position for i in changes]

    # Each step's record, as it stood then, is what the scenario saw at that moment.
    audit = container.use_cases.audit
    for name, (moment, patient_then, visit_then) in steps.items():
        past = audit.state_at(patient, moment, OFFICER, show_phi_for=PurposeOfUse.legal)
        expected = {k: (ERASED if v and k in ("given_name", "family_name", "email",
                                               "birth_date") else v)
                    for k, v in patient_then.items()}
        assert past.state == expected, name
        if visit_then is not None:
            visit_past = audit.state_at(visit, moment, OFFICER, show_phi_for=PurposeOfUse.legal)
            assert visit_past.state == {**visit_then, "reason": ERASED}, name
            hidden = audit.state_at(visit, moment, OFFICER)
            assert hidden.state["reason"] == WITHHELD and hidden.state["status"] == \
                visit_then["status"]


def test_a_cursor_not_issued_here_is_refused(container: Container) -> None:
    with pytest.raises(InvalidCursorError):
        container.use_cases.timeline.page(TimelineOf.actor, "x", OFFICER, cursor="not-ours")
