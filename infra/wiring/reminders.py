"""`clinic project`'s reminder worker: the scheduler over the PostgreSQL schedule, recording
each reminder through the reminders use case and releasing unconfirmed visits through the
visits use case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commands.reminders import Reminders
from commands.visits import Visits
from infra.eventstore.application import FOLLOWER_POOL, build_application
from infra.postgres.read_model import utc_now
from infra.postgres.read_models import create_read_model_tables
from infra.postgres.reminder_schedule import PostgresReminderSchedule
from infra.settings import Settings
from projections.reminders import ReminderScheduler


def build_scheduler(settings: Settings, clock: Any = utc_now,
                    **options: Any) -> tuple[ReminderScheduler, list[Any]]:
    """The scheduler, and what to close after it stopped."""
    assert settings.database_url
    create_read_model_tables(settings.database_url, settings.db_schema)
    # PHI open: a released visit's cancellation carries a (blank) note sealed as PHI.
    app = build_application(settings, pool_size=FOLLOWER_POOL)
    schedule = PostgresReminderSchedule(settings.database_url, settings.db_schema)
    visits = Visits(app, timedelta(hours=settings.cancellation_cutoff_hours))
    scheduler = ReminderScheduler(schedule, Reminders(app).record_due,
                                  settings.reminder_offset_list(), clock,
                                  release=visits.release_unconfirmed, **options)
    return scheduler, [schedule, app]
