"""The compliance officer's use cases called as a door calls them, without FastAPI or a
server: a record as it stood at a moment (Audit.state_at) and a subject's timeline
(Timeline.page), over the in-memory event store; the timeline's rows replayed from it and
the access trail kept in memory (tests/fakes.py)."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from commands.audit import PHI_SHOWN, WITHHELD, plain_state
from commands.booking import BookingCreate
from commands.context import Actor
from commands.patients import ContactUpdate
from commands.timeline import InvalidCursorError, TimelineItem, TimelineOf
from domain.access import PurposeOfUse, Role
from domain.errors import InvalidInputError, NotFoundError
from tests.fakes import TimedAccess
from tests.unit.test_use_cases import Clinic

OFFICER = Actor("officer-1", Role.compliance, request_id="req-audit")


@pytest.fixture
def world() -> Clinic:
    return Clinic()


def _trail(world: Clinic) -> TimedAccess:
    trail = world.uc.audit.trail
    assert isinstance(trail, TimedAccess) and trail is world.uc.timeline.trail
    return trail


def _moment() -> datetime:
    """A moment strictly between the events recorded before and after it."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def test_a_record_before_it_existed_or_never_is_not_found(world: Clinic) -> None:
    before = _moment()
    ana = world.patient("ana@example.org")
    with pytest.raises(NotFoundError, match="did not exist yet"):
        world.uc.audit.state_at(uuid.UUID(ana.subject), before, OFFICER)
    with pytest.raises(NotFoundError):
        world.uc.audit.state_at(uuid.uuid4(), datetime.now(UTC), OFFICER)


def test_a_past_state_is_the_record_as_it_was_then_with_the_changes_since(
        world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    patient_id = uuid.UUID(ana.subject)
    then = _moment()
    desk = Actor("desk-1", Role.front_desk, request_id="req-7", purpose="operations")
    world.uc.patients.change_contact(patient_id, ContactUpdate(
        email="ana@example.org", phone="+1 617 555 0100"), desk)

    past = world.uc.audit.state_at(patient_id, then, OFFICER,
                                   show_phi_for=PurposeOfUse.compliance)
    store = world.uc.patients.app
    as_it_was = store.repository.get(patient_id, version=past.version)
    assert past.kind == "Patient" and past.as_of == then
    assert past.state == plain_state(vars(as_it_was))
    assert past.state["phone"] is None and past.state["email"] == "ana@example.org"
    assert store.repository.get(patient_id).phone == "+1 617 555 0100"
    [change] = past.changes_since
    assert (change.version, change.event) == (past.version + 1,
                                              "Patient.ContactDetailsChanged")
    assert (change.actor, change.role, change.purpose, change.request_id) == (
        "desk-1", "front_desk", "operations", "req-7")


def test_phi_is_withheld_unless_a_purpose_is_stated_and_then_the_look_is_recorded(
        world: Clinic) -> None:
    ana = world.patient("ana@example.org")
    patient_id = uuid.UUID(ana.subject)
    now = datetime.now(UTC)
    trail = _trail(world)

    withheld = world.uc.audit.state_at(patient_id, now, OFFICER)
    assert withheld.state["given_name"] == withheld.state["email"] == WITHHELD
    assert withheld.state["email_verified"] is True  # not PHI: shown
    assert trail.entries == []

    shown = world.uc.audit.state_at(patient_id, now, OFFICER,
                                    show_phi_for=PurposeOfUse.legal, door="audit state")
    assert shown.state["given_name"] == "Ana" and shown.state["email"] == "ana@example.org"
    [entry] = trail.entries
    assert (entry.actor, entry.role, entry.action, entry.resource, entry.purpose) == (
        "officer-1", "compliance", "read", "audit state", "legal")
    assert (entry.patient_id, entry.record_id, entry.detail, entry.request_id) == (
        patient_id, str(patient_id), PHI_SHOWN, "req-audit")


def _booked_and_cancelled(world: Clinic) -> tuple[uuid.UUID, uuid.UUID]:
    ana = world.patient("ana@example.org")
    booking = replace(ana, request_id="req-book", purpose="treatment")
    visit = world.uc.bookings.book(BookingCreate(slot_id=world.offer(48).slot_id,
                                                 reason="cough"), booking).result
    world.uc.bookings.cancel(visit.id, "travelling",
                             Actor("desk-1", Role.front_desk, request_id="req-cancel"))
    return uuid.UUID(ana.subject), visit.id


def test_a_patients_timeline_is_every_change_in_order_with_who_and_why(
        world: Clinic) -> None:
    patient_id, visit_id = _booked_and_cancelled(world)
    page = world.uc.timeline.page(TimelineOf.patient, str(patient_id), OFFICER)
    assert page.next_cursor is None and page.subject == str(patient_id)
    events = [item.event for item in page.items]
    assert events[0] == "Patient.Registered" and "Consent.Granted" in events
    assert events.index("Appointment.Booked") < events.index("Appointment.Cancelled")
    assert all(item.kind == "change" and item.phi is None for item in page.items)
    positions = [item.position or 0 for item in page.items]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    booked = next(i for i in page.items if i.event == "Appointment.Booked")
    assert (booked.actor, booked.role, booked.purpose, booked.request_id) == (
        str(patient_id), "patient", "treatment", "req-book")
    assert booked.record_id == str(visit_id) and booked.patient_id == patient_id
    cancelled = next(i for i in page.items if i.event == "Appointment.Cancelled")
    assert (cancelled.actor, cancelled.role, cancelled.request_id) == (
        "desk-1", "front_desk", "req-cancel")
    assert cancelled.patient_id == patient_id  # the cancellation names no patient
    assert "cough" not in " ".join(i.description for i in page.items)  # no PHI

    visit = world.uc.timeline.page(TimelineOf.appointment, str(visit_id), OFFICER)
    assert [i.event for i in visit.items][:1] == ["Appointment.Booked"]
    assert {i.record_id for i in visit.items} >= {str(visit_id)}
    desk = world.uc.timeline.page(TimelineOf.actor, "desk-1", OFFICER)
    assert [i.event for i in desk.items if i.record_id == str(visit_id)] == [
        "Appointment.Cancelled"]
    assert {i.actor for i in desk.items} == {"desk-1"}


def test_pages_follow_their_cursor_to_the_end(world: Clinic) -> None:
    patient_id, _ = _booked_and_cancelled(world)
    whole = world.uc.timeline.page(TimelineOf.patient, str(patient_id), OFFICER).items
    assert len(whole) > 5
    paged: list[TimelineItem] = []
    cursor: str | None = None
    for _ in range(len(whole)):
        page = world.uc.timeline.page(TimelineOf.patient, str(patient_id), OFFICER,
                                      cursor=cursor, limit=2)
        assert len(page.items) <= 2
        paged += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert paged == whole


def test_phi_on_the_timeline_is_shown_for_a_purpose_and_the_look_joins_the_timeline(
        world: Clinic) -> None:
    patient_id, visit_id = _booked_and_cancelled(world)
    plain = world.uc.timeline.page(TimelineOf.appointment, str(visit_id), OFFICER)
    assert _trail(world).entries == []
    shown = world.uc.timeline.page(TimelineOf.appointment, str(visit_id), OFFICER,
                                   show_phi_for=PurposeOfUse.compliance)
    booked = next(i for i in shown.items if i.event == "Appointment.Booked")
    assert booked.phi is not None and booked.phi.get("reason") == "cough"
    assert [replace(i, phi=None) for i in shown.items] == plain.items
    looks = _trail(world).entries
    assert {(e.patient_id, e.record_id, e.purpose, e.detail) for e in looks} == {
        (patient_id, str(visit_id), "compliance", PHI_SHOWN)}

    again = world.uc.timeline.page(TimelineOf.patient, str(patient_id), OFFICER)
    access = [i for i in again.items if i.kind == "access"]
    assert [(i.actor, i.outcome, i.record_id) for i in access] == [
        ("officer-1", "allowed", str(visit_id))] * len(looks)
    assert again.items[-len(access):] == access  # the look came after every change


def test_a_subject_or_cursor_that_is_not_one_is_refused(world: Clinic) -> None:
    with pytest.raises(InvalidInputError, match="UUID"):
        world.uc.timeline.page(TimelineOf.patient, "ana@example.org", OFFICER)
    with pytest.raises(InvalidCursorError):
        world.uc.timeline.page(TimelineOf.patient, str(uuid.uuid4()), OFFICER,
                               cursor="not-a-cursor")
    nobody = world.uc.timeline.page(TimelineOf.actor, "nobody", OFFICER,
                                    cursor=None, limit=10)
    assert nobody.items == [] and nobody.next_cursor is None
