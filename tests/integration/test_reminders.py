"""Reminders on real PostgreSQL: due once per appointment, offset and start time; never for a
cancelled visit or a moved visit's old time; a moved visit gets reminders of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from commands.ports import SlotInfo
from domain.consent import POLICIES, Purpose
from domain.reminders import Reminder
from infra.wiring.container import Container
from infra.wiring.reminders import build_scheduler
from tests.builders import ALL_DAY, build_world, first_slot, rules, slot_at
from tests.driver import drive


def test_each_reminder_falls_due_once_and_only_for_visits_still_on(
        container: Container, project: Any) -> None:
    app = drive(container)
    world = build_world(app)
    patient, _ = app.register_patient("Rey", "Min", datetime(1990, 1, 1).date(),
                                      "rey@example.org", None)
    app.verify_patient_email(patient)
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    # Dr. Two, who works at one clinic (Dr. One's hours at two may not overlap).
    doctor, clinic = world.second_provider, world.second_clinic
    app.publish_availability(doctor, clinic, rules(ALL_DAY, min_notice_minutes=0))
    now = datetime.now(UTC).replace(microsecond=0)
    start = first_slot(app, doctor, clinic, world.checkup, now + timedelta(days=2)).start

    def slot(at: datetime) -> SlotInfo:
        return slot_at(app, doctor, clinic, world.checkup, at)

    kept = app.book(patient, slot(start), "", now).id
    cancelled = app.book(patient, slot(start + timedelta(hours=1)), "", now).id
    moved = app.book(patient, slot(start + timedelta(hours=2)), "", now).id
    soon_start = first_slot(app, doctor, clinic, world.checkup,
                            now + timedelta(minutes=90)).start
    soon = app.book(patient, slot(soon_start), "", now).id  # its 24 h reminder is already past
    app.cancel(cancelled, now)
    new_start = start + timedelta(hours=5)
    app.reschedule(moved, slot(new_start), now)
    project()

    settings = container.settings.model_copy(update={"reminder_offsets": "24h,1h"})
    runs = {"soon 1h": soon_start - timedelta(minutes=59), "kept 24h": start - timedelta(hours=23),
            "moved both": start + timedelta(hours=4)}
    recorded: dict[str, int] = {}
    for label, moment in runs.items():
        first, resources = build_scheduler(settings, clock=lambda m=moment: m)
        racing, more = build_scheduler(settings, clock=lambda m=moment: m)
        try:
            recorded[label] = first.run_once()
            assert racing.run_once() == 0 and first.run_once() == 0  # once, however often
        finally:
            for resource in [*resources, *more]:
                resource.close()
    assert recorded == {"soon 1h": 1, "kept 24h": 1, "moved both": 2}

    due = {(e.appointment_id, e.offset_minutes, e.appointment_start)
           for n in app.recorder.select_notifications(start=1, limit=10_000)
           if isinstance(e := app.mapper.to_domain_event(n), Reminder.Due)}
    assert due == {(soon, 60, soon_start), (kept, 1440, start),
                   (moved, 1440, new_start), (moved, 60, new_start)}
    assert not any(appointment == cancelled for appointment, _, _ in due)


def test_the_appointment_decides_even_when_the_schedule_lags(container: Container) -> None:
    """A visit cancelled after the read model last saw it gets no reminder."""
    app = drive(container)
    world = build_world(app)
    patient, _ = app.register_patient("Sol", "Ng", datetime(1991, 1, 1).date(),
                                      "sol@example.org", None)
    app.verify_patient_email(patient)
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    app.publish_availability(world.second_provider, world.second_clinic, rules(ALL_DAY))
    now = datetime.now(UTC)
    slot = first_slot(app, world.second_provider, world.second_clinic, world.checkup,
                      now + timedelta(days=3))
    start = slot.start
    appointment = app.book(patient, slot, "", now).id
    assert app.record_reminder_due(appointment, timedelta(hours=2), start + timedelta(hours=1)
                                   ) is False  # not its start time
    app.cancel(appointment, now)
    assert app.record_reminder_due(appointment, timedelta(hours=2), start) is False
