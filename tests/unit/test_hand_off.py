"""Handing a visit to a colleague (issue "Waitlist…", item 4): a booked or checked-in visit,
with a coded cause, until its time is over; hand-offs recorded before causes were kept still
read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.appointments import Appointment, AppointmentStatus, HandOffCause, InvalidTransitionError
from domain.errors import RuleViolationError

NOW = datetime(2027, 3, 1, 15, tzinfo=UTC)


def _visit() -> Appointment:
    start = NOW + timedelta(hours=1)
    return Appointment.book(uuid4(), uuid4(), uuid4(), uuid4(), uuid4(), start,
                            start + timedelta(minutes=30), "in_person", "")


def test_a_booked_or_checked_in_visit_goes_to_a_colleague_with_its_cause() -> None:
    visit, colleague = _visit(), uuid4()
    visit.hand_off(colleague, NOW, HandOffCause.provider_unavailable)
    assert visit.provider_id == colleague
    handed = visit.collect_events()[-1]
    assert isinstance(handed, Appointment.HandedOff)
    assert handed.cause == "provider-unavailable"
    waiting = _visit()
    waiting.check_in()
    during = waiting.start + timedelta(minutes=10)  # the patient is in the waiting room
    waiting.hand_off(colleague, during, HandOffCause.clinical_need)
    assert waiting.provider_id == colleague
    assert waiting.status is AppointmentStatus.checked_in


def test_a_visit_over_or_closed_stays_with_its_provider() -> None:
    over = _visit()
    with pytest.raises(InvalidTransitionError):
        over.hand_off(uuid4(), over.end, HandOffCause.other)
    done = _visit()
    done.check_in()
    done.complete()
    with pytest.raises(InvalidTransitionError):
        done.hand_off(uuid4(), NOW, HandOffCause.other)
    same = _visit()
    with pytest.raises(RuleViolationError):
        same.hand_off(same.provider_id, NOW, HandOffCause.other)


def test_a_hand_off_recorded_before_causes_were_kept_still_reads() -> None:
    visit, colleague = _visit(), uuid4()
    visit.hand_off(colleague, NOW)
    events = visit.collect_events()
    old = events[-1]
    del old.__dict__["cause"]  # as the mapper rebuilds an event stored without the field
    replayed: Appointment | None = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None and replayed.provider_id == colleague
    assert old.cause == ""
