"""PatientAgenda: one patient's upcoming visits, the consistency boundary for the patient's
own rules: no two visits at once, no more upcoming visits than the clinic allows, and fewer
after repeated no-shows (the no-show rule, docs/attendance.md).

Saved in the same atomic write as the appointment and the provider's calendars, like
ProviderCalendar: two racing bookings of one patient read the same agenda version and only
one write of the next version succeeds; the other re-reads and sees the first visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError, RuleViolationError

AGENDA_NAMESPACE = uuid5(NAMESPACE_URL, "urn:clinic:patient-agenda")


class PatientBusyError(ConflictError):
    code = "patient-has-a-visit-then"


class UpcomingVisitLimitError(RuleViolationError):
    code = "upcoming-visit-limit"


class NoShowLimitError(UpcomingVisitLimitError):
    code = "no-show-limit"


CONFIRM_AHEAD = timedelta(hours=24)  # only visits booked this far ahead are asked to confirm


class InvalidNoShowRuleError(RuleViolationError):
    code = "invalid-no-show-policy"


@dataclass(frozen=True)
class NoShowRule:
    """After `no_shows` no-shows within `within`, a patient may hold only `upcoming`
    upcoming visits (the front desk may book beyond it, on record; 0: no lower limit), and,
    with `confirm`, must confirm each visit booked a day or more ahead: unconfirmed, it is
    released `release_before` its start (docs/attendance.md). `no_shows` 0: off."""

    no_shows: int = 3
    within: timedelta = timedelta(days=180)
    upcoming: int = 1
    confirm: bool = True
    release_before: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        if not 0 <= self.no_shows <= 100 or not 0 <= self.upcoming <= 50:
            raise InvalidNoShowRuleError("no-shows 0 to 100, upcoming visits 0 to 50")
        if not timedelta(days=1) <= self.within <= timedelta(days=3650):
            raise InvalidNoShowRuleError("the window is 1 to 3650 days")
        if not timedelta(hours=1) <= self.release_before < CONFIRM_AHEAD:
            raise InvalidNoShowRuleError(
                "unconfirmed visits are released 1 to 23 hours before the start (after the "
                "day-ahead reminder that asks for the confirmation)")

    def applies(self, recent_no_shows: int) -> bool:
        return self.no_shows > 0 and recent_no_shows >= self.no_shows

    def asks_confirmation(self, recent_no_shows: int, start: datetime, now: datetime) -> bool:
        """A visit booked less than a day ahead is confirmed by being booked: the day-ahead
        reminder that carries the confirm link would come too late for it."""
        return self.confirm and self.applies(recent_no_shows) and start - now >= CONFIRM_AHEAD


class PatientAgenda(Aggregate):
    class Opened(Aggregate.Created):
        patient_id: UUID

    class Reserved(Aggregate.Event):
        appointment_id: UUID
        start: datetime
        end: datetime
        over_limit: bool  # staff booked beyond the limit (the event's actor says who)

    class Released(Aggregate.Event):
        appointment_id: UUID

    class NoShowRecorded(Aggregate.Event):
        appointment_id: UUID
        start: datetime  # of the missed visit

    @staticmethod
    def create_id(patient_id: UUID) -> UUID:
        return uuid5(AGENDA_NAMESPACE, str(patient_id))

    @event(Opened)
    def __init__(self, patient_id: UUID) -> None:
        self.patient_id = patient_id
        self.visits: dict[UUID, tuple[datetime, datetime]] = {}
        self.no_shows: dict[UUID, datetime] = {}  # missed visits and when they started

    def upcoming(self, now: datetime) -> int:
        return sum(1 for _, end in self.visits.values() if end > now)

    def recent_no_shows(self, now: datetime, within: timedelta) -> int:
        return sum(1 for start in self.no_shows.values() if start >= now - within)

    def reserve(self, appointment_id: UUID, start: datetime, end: datetime, now: datetime,
                limit: int, *, exceed_limit: bool = False,
                no_show_rule: NoShowRule | None = None) -> None:
        """Refuse a visit overlapping another of the patient's, and one over the limit of
        upcoming visits (lower after repeated no-shows) unless staff override it. A
        reschedule moves its own visit."""
        for other, (s, e) in self.visits.items():
            if other != appointment_id and s < end and start < e:
                raise PatientBusyError("you already have a visit at that time")
        moving = appointment_id in self.visits
        restricted = no_show_rule is not None and no_show_rule.upcoming > 0 and \
            no_show_rule.applies(self.recent_no_shows(now, no_show_rule.within))
        if restricted and no_show_rule is not None:
            limit = min(limit, no_show_rule.upcoming)
        over = not moving and self.upcoming(now) >= limit
        if over and not exceed_limit:
            if restricted:
                raise NoShowLimitError(
                    f"after missed visits, no more than {limit} upcoming visit at a time; "
                    "ask the front desk")
            raise UpcomingVisitLimitError(
                f"no more than {limit} upcoming visits; cancel one, or ask the front desk")
        if self.visits.get(appointment_id) != (start, end):
            self._reserved(appointment_id, start, end, over)

    @event(Reserved)
    def _reserved(self, appointment_id: UUID, start: datetime, end: datetime,
                  over_limit: bool) -> None:
        self.visits[appointment_id] = (start, end)

    def release(self, appointment_id: UUID) -> None:
        if appointment_id in self.visits:
            self._released(appointment_id)

    @event(Released)
    def _released(self, appointment_id: UUID) -> None:
        del self.visits[appointment_id]

    def record_no_show(self, appointment_id: UUID, start: datetime) -> None:
        """The patient missed this visit: it counts for the no-show rule from its start, and
        no longer holds the patient's time."""
        if appointment_id not in self.no_shows:
            self._no_show_recorded(appointment_id, start)

    @event(NoShowRecorded)
    def _no_show_recorded(self, appointment_id: UUID, start: datetime) -> None:
        self.no_shows[appointment_id] = start
        self.visits.pop(appointment_id, None)
