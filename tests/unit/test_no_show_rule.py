"""The no-show rule on a patient's agenda: after N missed visits within the window, one
upcoming visit at a time (staff may book beyond it); older misses and a rule switched off
(N = 0) restrict nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.agendas import NoShowLimitError, NoShowRule, PatientAgenda

NOW = datetime(2027, 3, 1, 15, tzinfo=UTC)
RULE = NoShowRule(no_shows=2, within=timedelta(days=90), upcoming=1)


def _agenda(missed_days_ago: list[int]) -> PatientAgenda:
    agenda = PatientAgenda(patient_id=uuid4())
    for days in missed_days_ago:
        visit, start = uuid4(), NOW - timedelta(days=days)
        agenda.reserve(visit, start, start + timedelta(minutes=30), start - timedelta(days=1),
                       8)
        agenda.record_no_show(visit, start)
    return agenda


def _book(agenda: PatientAgenda, hours_ahead: int, rule: NoShowRule, **options: bool) -> None:
    start = NOW + timedelta(hours=hours_ahead)
    agenda.reserve(uuid4(), start, start + timedelta(minutes=30), NOW, 8, no_show_rule=rule,
                   **options)


def test_recent_misses_leave_one_upcoming_visit() -> None:
    agenda = _agenda([10, 40])
    assert agenda.recent_no_shows(NOW, RULE.within) == 2 and agenda.upcoming(NOW) == 0
    _book(agenda, 24, RULE)
    with pytest.raises(NoShowLimitError):
        _book(agenda, 48, RULE)
    _book(agenda, 48, RULE, exceed_limit=True)  # the front desk, on record
    assert agenda.upcoming(NOW) == 2


def test_old_misses_and_a_rule_switched_off_restrict_nothing() -> None:
    for agenda, rule in ((_agenda([10, 200]), RULE),
                         (_agenda([1, 2, 3]), NoShowRule(no_shows=0))):
        _book(agenda, 24, rule)
        _book(agenda, 48, rule)
        assert agenda.upcoming(NOW) == 2


def test_a_miss_is_counted_once_and_frees_the_patients_time() -> None:
    agenda = _agenda([5])
    [(visit, start)] = agenda.no_shows.items()
    agenda.record_no_show(visit, start)
    assert len(agenda.no_shows) == 1 and visit not in agenda.visits
