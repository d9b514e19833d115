"""The reminder scheduler: record a reminder-due event for each booked visit and offset, and
release the visits whose time to confirm is over (the no-show rule, docs/attendance.md).

It reads the appointments read model for visits whose reminder time has come, asks the write
side to record the reminder (the appointment decides: still booked, same start), then marks
the schedule. The marks are its position; the event store's uniqueness makes each reminder
exactly-once even if a mark is lost in a crash. A reminder whose time had passed before the
visit was booked (or moved) is skipped: the confirmation said it all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from projections.periodic import PeriodicWorker

Clock = Callable[[], datetime]
RecordReminder = Callable[[UUID, timedelta, datetime], bool]
ReleaseVisit = Callable[[UUID, datetime], bool]


class ReminderSchedule(Protocol):
    def due(self, offset: timedelta, now: datetime, limit: int) -> list[tuple[UUID, datetime]]:
        """(appointment id, start) of booked visits whose reminder at `offset` is due now,
        not yet marked, and that were booked or moved before it fell due."""

    def mark(self, appointment_id: UUID, offset: timedelta, start: datetime) -> None: ...

    def lapsed(self, now: datetime, limit: int) -> list[UUID]:
        """Booked visits awaiting a confirmation whose time to confirm is over by `now`."""


class ReminderScheduler(PeriodicWorker):
    name = "reminders"

    def __init__(self, schedule: ReminderSchedule, record: RecordReminder,
                 offsets: Sequence[timedelta], clock: Clock, *, every: float = 5.0,
                 batch: int = 200, release: ReleaseVisit | None = None) -> None:
        super().__init__(every)
        self.schedule, self.record, self.offsets = schedule, record, tuple(offsets)
        self.clock, self.batch, self.release = clock, batch, release

    def run_once(self) -> int:
        """Record every reminder due now; return how many were recorded."""
        recorded = 0
        now = self.clock()
        for offset in self.offsets:
            while due := self.schedule.due(offset, now, self.batch):
                for appointment_id, start in due:
                    recorded += self.record(appointment_id, offset, start)
                    self.schedule.mark(appointment_id, offset, start)
                if len(due) < self.batch:
                    break
        if self.release is not None:
            self.release_lapsed(now)
        return recorded

    def release_lapsed(self, now: datetime) -> int:
        """Release each visit not confirmed in time (the appointment decides: one confirmed
        or moved meanwhile stays); return how many were released. A visit the write side
        keeps stays in the read model's list until its projection catches up, so a pass
        looks at one batch only."""
        assert self.release is not None
        return sum(self.release(appointment_id, now)
                   for appointment_id in self.schedule.lapsed(now, self.batch))
