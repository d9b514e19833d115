"""Confirming a visit after repeated no-shows (docs/attendance.md): who is asked, until when,
what a confirmation, a move and a lapse do; and a clinic's own rule, kept on the clinic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.agendas import InvalidNoShowRuleError, NoShowRule
from domain.appointments import Appointment, AppointmentStatus, InvalidTransitionError
from domain.clinics import Address, Clinic
from domain.modality import Modality

NOW = datetime(2027, 3, 1, 15, tzinfo=UTC)
RULE = NoShowRule(no_shows=2, within=timedelta(days=90), upcoming=0,
                  release_before=timedelta(hours=6))


def _visit(hours_ahead: float) -> Appointment:
    start = NOW + timedelta(hours=hours_ahead)
    return Appointment.book(uuid4(), uuid4(), uuid4(), uuid4(), uuid4(), start,
                            start + timedelta(minutes=30), "in_person", "")


def test_only_a_visit_a_day_or_more_ahead_is_asked_after_enough_misses() -> None:
    ahead = NOW + timedelta(hours=24)
    assert RULE.asks_confirmation(2, ahead, NOW)
    assert not RULE.asks_confirmation(1, ahead, NOW)  # not enough misses
    assert not RULE.asks_confirmation(2, ahead - timedelta(minutes=1), NOW)  # booked close
    assert not NoShowRule(no_shows=2, confirm=False).asks_confirmation(2, ahead, NOW)
    assert not NoShowRule(no_shows=0).asks_confirmation(9, ahead, NOW)


@pytest.mark.parametrize("options", [{"release_before": timedelta(hours=24)},
                                     {"release_before": timedelta(minutes=30)},
                                     {"no_shows": -1}, {"upcoming": 51},
                                     {"within": timedelta(hours=12)}])
def test_a_rule_out_of_bounds_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(InvalidNoShowRuleError):
        NoShowRule(**options)  # type: ignore[arg-type]


def test_a_confirmed_visit_stays_and_confirming_again_changes_nothing() -> None:
    visit = _visit(48)
    assert visit.confirm_by is None
    visit.confirm(NOW)  # nothing asked: nothing recorded
    visit.require_confirmation(RULE.release_before)
    assert visit.confirm_by == visit.start - timedelta(hours=6)
    visit.confirm(NOW)
    version = visit.version
    visit.confirm(NOW)
    assert visit.confirm_by is None and visit.version == version
    with pytest.raises(InvalidTransitionError):
        visit.release_unconfirmed(visit.start - timedelta(hours=1))


def test_an_unconfirmed_visit_is_released_once_its_time_to_confirm_is_over() -> None:
    visit = _visit(48)
    visit.require_confirmation(RULE.release_before)
    deadline = visit.start - timedelta(hours=6)
    with pytest.raises(InvalidTransitionError):
        visit.release_unconfirmed(deadline - timedelta(seconds=1))
    with pytest.raises(InvalidTransitionError):
        visit.confirm(deadline)
    visit.release_unconfirmed(deadline)
    assert visit.status is AppointmentStatus.cancelled and not visit.late_cancellation
    kinds = [type(e) for e in visit.collect_events()]
    assert kinds[-2:] == [Appointment.ConfirmationLapsed, Appointment.Cancelled]
    with pytest.raises(InvalidTransitionError):
        visit.release_unconfirmed(deadline)


def test_the_deadline_moves_with_the_visit_and_a_move_close_to_it_confirms() -> None:
    visit = _visit(48)
    visit.require_confirmation(RULE.release_before)
    later = NOW + timedelta(hours=72)
    visit.reschedule(uuid4(), later, later + timedelta(minutes=30), NOW)
    assert visit.confirm_by == later - timedelta(hours=6)
    soon = NOW + timedelta(hours=3)  # inside the release window: choosing it confirms
    visit.reschedule(uuid4(), soon, soon + timedelta(minutes=30), NOW)
    assert visit.confirm_by is None and visit.confirmed


def test_a_clinic_keeps_its_own_rule_and_can_return_to_the_default() -> None:
    clinic = Clinic.register("North", Address("1 Main St", "Springfield", "IL", "62701"),
                             "America/Chicago", [Modality.in_person])
    assert clinic.no_show_rule is None
    clinic.set_no_show_rule(RULE)
    clinic.set_no_show_rule(RULE)  # the same rule again records nothing
    assert clinic.no_show_rule == RULE
    clinic.set_no_show_rule(None)
    assert clinic.no_show_rule is None
    assert [type(e) for e in clinic.collect_events()].count(Clinic.NoShowPolicySet) == 2
