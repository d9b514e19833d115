"""The reminder scheduler: record a reminder-due event for each booked visit and offset.

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


class ReminderSchedule(Protocol):
    def due(self, offset: timedelta, now: datetime, limit: int) -> list[tuple[UUID, datetime]]:
        """(appointment id, start) of booked visits whose reminder at `offset` is due now,
        not yet marked, and that were booked or moved before it fell due."""

    def mark(self, appointment_id: UUID, offset: timedelta, start: datetime) -> None: ...


class ReminderScheduler(PeriodicWorker):
    name = "reminders"

    def __init__(self, schedule: ReminderSchedule, record: RecordReminder,
                 offsets: Sequence[timedelta], clock: Clock, *, every: float = 5.0,
                 batch: int = 200) -> None:
        super().__init__(every)
        self.schedule, self.record, self.offsets = schedule, record, tuple(offsets)
        self.clock, self.batch = clock, batch

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
        return recorded
