"""`clinic project`'s reminder worker: the scheduler over the PostgreSQL schedule, recording
each reminder through the reminders use case."""

from __future__ import annotations

from typing import Any

from commands.reminders import Reminders
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
    app = build_application(settings, open_phi=False, pool_size=FOLLOWER_POOL)
    schedule = PostgresReminderSchedule(settings.database_url, settings.db_schema)
    scheduler = ReminderScheduler(schedule, Reminders(app).record_due,
                                  settings.reminder_offset_list(), clock, **options)
    return scheduler, [schedule, app]
