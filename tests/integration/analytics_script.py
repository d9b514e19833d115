"""A scripted fortnight for the analytics tests: two clinics in two time zones, the 2027
spring DST change, bookings, a move, cancellations (one late), a re-booking, a no-show and a
completed visit; and how the tests read the analytics schema."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from commands.context import Actor
from domain.access import Role
from domain.clinics import Address
from domain.modality import Modality
from infra.postgres.analytics import AnalyticsReadModel, analytics_schema
from infra.postgres.read_models import read_model
from infra.wiring.container import Container
from tests.builders import ALL_DAY, rules, slot_at
from tests.driver import ClinicDriver

TABLES = ("appointment_facts", "daily_utilization", "slot_supply", "freed_times",
          "daily_capacity", "schedules", "rolled", "hourly_offer", "clinics", "services",
          "providers")
STAFF = Actor("fd-1", Role.admin)
MARKER = "Phimark7q"  # in every patient's names, email and visit reason


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Script:
    boston: UUID
    chicago: UUID
    one: UUID  # Dr. One, Boston
    two: UUID  # Dr. Two, Chicago
    checkup: UUID
    visits: dict[str, UUID]
    patients: dict[str, UUID]


def analytics_model(container: Container) -> AnalyticsReadModel:
    settings = container.settings
    assert settings.database_url
    model = read_model("analytics", settings.database_url, settings.db_schema,
                       phi=container.phi)
    assert isinstance(model, AnalyticsReadModel)
    return model


def play(app: ClinicDriver) -> Script:
    """US clocks spring forward on Sunday 2027-03-14 at 02:00; both clinics follow them."""
    address = Address("1 Main St", "Boston", "MA", "02110")
    boston = app.register_clinic("Harbor", address, "America/New_York", [Modality.in_person])
    chicago = app.register_clinic("Lakeside", address, "America/Chicago", [Modality.in_person])
    checkup = app.register_service("Checkup", 30, Modality.in_person)
    one = app.register_provider("Dr. One", [boston], [checkup])
    two = app.register_provider("Dr. Two", [chicago], [checkup])
    for provider, clinic in ((one, boston), (two, chicago)):
        app.publish_availability(provider, clinic, rules(ALL_DAY, horizon_days=365))
    patients = {name: app.ready_patient(f"{MARKER}{name}", f"{MARKER}Family",
                                        f"{name}.{MARKER.lower()}@example.org")
                for name in ("ana", "ben", "cy", "dee")}
    march10 = utc(2027, 3, 10, 12)

    def book(who: str, provider: UUID, clinic: UUID, start: datetime, now: datetime) -> UUID:
        slot = slot_at(app, provider, clinic, checkup, start)
        return UUID(str(app.book(patients[who], slot, f"{MARKER} chest pain", now).id))

    visits = {
        # 23:30 EST on Saturday 13th is 04:30 UTC on the 14th: it counts on the 13th.
        "a1": book("ana", one, boston, utc(2027, 3, 14, 4, 30), march10),
        # 03:00 EDT on the 14th, just after the change (UTC-4 now): 07:00 UTC.
        "a2": book("ben", one, boston, utc(2027, 3, 14, 7), march10),
        # 22:00 CDT on the 14th is 03:00 UTC on the 15th.
        "a3": book("cy", two, chicago, utc(2027, 3, 15, 3), march10),
        # 10:00 CST on Friday 12th (UTC-6), moved to 10:00 CDT on Tuesday 16th (UTC-5).
        "a5": book("dee", two, chicago, utc(2027, 3, 12, 16), march10),
        # 09:00 EDT on Saturday 20th, cancelled ten days ahead.
        "a7": book("ben", one, boston, utc(2027, 3, 20, 13), march10),
    }
    app.reschedule(visits["a5"], slot_at(app, two, chicago, checkup, utc(2027, 3, 16, 15)),
                   march10)
    visits["a6"] = book("cy", two, chicago, utc(2027, 3, 12, 16), march10)  # re-booked
    app.cancel(visits["a7"], march10)
    app.cancel(visits["a3"], utc(2027, 3, 14, 20))  # 7 h before: late
    visits["a4"] = book("dee", two, chicago, utc(2027, 3, 15, 3), utc(2027, 3, 14, 20, 30))
    app.mark_no_show(visits["a1"], utc(2027, 3, 14, 5))
    app.use_cases.visits.check_in(visits["a2"], STAFF)
    app.use_cases.visits.complete(visits["a2"], STAFF)
    return Script(boston, chicago, one, two, checkup, visits, patients)


def rows(container: Container, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(str(container.settings.database_url)) as conn:
        return conn.execute(query.format(a=analytics_schema(container.settings.db_schema)),
                            params).fetchall()


def dump(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(rows(container, f'SELECT * FROM "{{a}}".{t}')) for t in TABLES}


def clinic(container: Container, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`clinic ARGS` in a process of its own, on the test's servers."""
    settings = container.settings
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    clean |= {"CLINIC_DATABASE_URL": str(settings.database_url),
              "CLINIC_DB_SCHEMA": settings.db_schema, "CLINIC_DATA_DIR": str(settings.data_dir),
              "CLINIC_REDIS_URL": str(settings.redis_url), **env}
    return subprocess.run([sys.executable, "-m", "infra.cli.main", *args], env=clean,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
