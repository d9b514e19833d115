"""Who may enter a video visit, and when: the join rules in the clinic's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.appointments import AppointmentStatus
from domain.errors import ConflictError, RuleViolationError
from domain.modality import Modality
from domain.telehealth import (
    JOINABLE,
    JoinTooEarlyError,
    NotTelehealthError,
    StaleJoinLinkError,
    VideoVisit,
    VisitEndedError,
    VisitNotJoinableError,
    admit,
    require_link_issuable,
)

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)
EARLY = timedelta(minutes=15)


def visit(status: AppointmentStatus = AppointmentStatus.booked,
          modality: str = Modality.telehealth.value) -> VideoVisit:
    return VideoVisit(status=status, modality=modality, start=START, end=END)


moments = st.integers(-24 * 60, 24 * 60).map(lambda m: START + timedelta(minutes=m))


@given(now=moments)
def test_a_booked_video_visit_opens_early_and_closes_at_its_end(now: datetime) -> None:
    if START - EARLY <= now < END:
        admit(visit(), START, now, EARLY)
    elif now < START - EARLY:
        with pytest.raises(JoinTooEarlyError) as refused:
            admit(visit(), START, now, EARLY)
        assert refused.value.opens_at == START - EARLY
        assert refused.value.extensions() == {"opens_at": (START - EARLY).isoformat()}
    else:
        with pytest.raises(VisitEndedError):
            admit(visit(), START, now, EARLY)


@given(now=moments, status=st.sampled_from(sorted(set(AppointmentStatus) - JOINABLE)))
def test_a_cancelled_no_show_or_fulfilled_visit_is_never_joinable(
        now: datetime, status: AppointmentStatus) -> None:
    with pytest.raises(VisitNotJoinableError):
        admit(visit(status), START, now, EARLY)
    with pytest.raises(VisitNotJoinableError):
        require_link_issuable(visit(status), now)


def test_a_checked_in_patient_can_rejoin() -> None:
    admit(visit(AppointmentStatus.checked_in), START, START + timedelta(minutes=5), EARLY)


@given(now=moments, status=st.sampled_from(list(AppointmentStatus)))
def test_an_in_person_visit_has_no_link_whatever_its_state(
        now: datetime, status: AppointmentStatus) -> None:
    with pytest.raises(NotTelehealthError):
        admit(visit(status, Modality.in_person.value), START, now, EARLY)


@given(moved=st.integers(-7 * 24 * 60, 7 * 24 * 60).filter(lambda m: m != 0))
def test_a_link_made_before_a_move_no_longer_opens_the_visit(moved: int) -> None:
    bound = START + timedelta(minutes=moved)
    with pytest.raises(StaleJoinLinkError):
        admit(visit(), bound, START, EARLY)


def test_the_same_instant_in_another_zone_is_not_a_move() -> None:
    from zoneinfo import ZoneInfo
    admit(visit(), START.astimezone(ZoneInfo("America/New_York")), START, EARLY)


def test_the_most_lasting_reason_wins() -> None:
    cancelled = visit(AppointmentStatus.cancelled)
    with pytest.raises(VisitNotJoinableError):  # not "too early" or "stale"
        admit(cancelled, START - timedelta(days=1), START - timedelta(days=2), EARLY)
    with pytest.raises(StaleJoinLinkError):  # not "too early": the link will never work
        admit(visit(), START - timedelta(hours=1), START - timedelta(days=2), EARLY)


def test_a_link_is_issued_until_the_visit_ends() -> None:
    require_link_issuable(visit(), START - timedelta(days=3))  # too early to join, not to ask
    with pytest.raises(VisitEndedError):
        require_link_issuable(visit(), END)


def test_refusals_have_stable_codes_and_kinds() -> None:
    assert issubclass(NotTelehealthError, RuleViolationError)
    for error in (VisitNotJoinableError, VisitEndedError, StaleJoinLinkError,
                  JoinTooEarlyError):
        assert issubclass(error, ConflictError)
    assert [e.code for e in (NotTelehealthError, VisitNotJoinableError, VisitEndedError,
                             StaleJoinLinkError, JoinTooEarlyError)] == [
        "not-telehealth", "visit-not-joinable", "visit-ended", "stale-join-link",
        "join-not-open"]
