"""Demo clinics, providers, services and hours, seeded idempotently through the commands.

Ids derive from names (uuid5), so a second run finds everything in place and adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog

from commands.context import SYSTEM_ACTOR
from commands.directory import Directory
from commands.models import (
    AddressIn,
    AvailabilityIn,
    ClinicCreate,
    ProviderCreate,
    ServiceCreate,
    Weekly,
)
from domain.access import Role
from domain.errors import NotFoundError
from domain.modality import Modality

log = structlog.get_logger("clinic.demo")
DEMO = uuid5(NAMESPACE_URL, "urn:clinic:demo")
BOTH = [Modality.in_person, Modality.telehealth]

CLINICS = [
    ("Harbor Street Clinic", AddressIn(line="101 Harbor St", city="Boston", state="MA",
                                       postal_code="02110"), "America/New_York", BOTH),
    ("Lakeside Family Health", AddressIn(line="22 W Lake St", city="Chicago", state="IL",
                                         postal_code="60601"), "America/Chicago", BOTH),
    ("Front Range Virtual Care", AddressIn(line="900 Larimer St", city="Denver", state="CO",
                                           postal_code="80202"), "America/Denver",
     [Modality.telehealth]),
    ("Pacific Coast Clinic", AddressIn(line="450 B St", city="San Diego", state="CA",
                                       postal_code="92101"), "America/Los_Angeles", BOTH),
]
SERVICES = [
    ("General consultation", 30, Modality.in_person),
    ("Vaccination", 15, Modality.in_person),
    ("Telehealth follow-up", 20, Modality.telehealth),
    ("Mental health check-in", 45, Modality.telehealth),
]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
EARLY = [["07:30", "11:30"], ["12:30", "15:30"]]
STANDARD = [["09:00", "12:00"], ["13:00", "17:00"]]
LATE = [["11:00", "14:00"], ["15:00", "19:00"]]


def _on(days: list[str], ranges: list[list[str]]) -> dict[str, list[list[str]]]:
    return dict.fromkeys(days, ranges)


# display name, service indexes, and hours per clinic index. A provider who works at two
# clinics is at one of them on a given day: in-person hours may not overlap (the directory
# refuses it), and nobody is in Boston and San Diego at once.
PROVIDERS: list[tuple[str, list[int], dict[int, dict[str, list[list[str]]]]]] = [
    ("Dr. Maya Chen", [0, 1, 2], {0: _on(WEEKDAYS, EARLY)}),
    ("Dr. Samuel Okafor", [0, 2], {0: _on(WEEKDAYS[:3], STANDARD),
                                   3: _on(WEEKDAYS[3:], STANDARD)}),
    ("Dr. Priya Raman", [0, 1], {1: _on(WEEKDAYS, STANDARD)}),
    ("Dr. Luis Herrera", [2, 3], {1: _on(WEEKDAYS[:4], LATE), 2: _on(WEEKDAYS[4:], LATE)}),
    ("Dr. Hannah Weiss", [2, 3], {2: _on(WEEKDAYS, STANDARD)}),
    ("Dr. Kwame Mensah", [0, 1, 2], {3: _on(WEEKDAYS, EARLY)}),
    ("Dr. Elena Petrova", [0, 3], {3: _on(WEEKDAYS, LATE)}),
    ("Dr. Aiko Tanaka", [1, 2, 3], {0: {"saturday": [["09:00", "13:00"]]},
                                    1: {"wednesday": [["14:00", "18:00"]]}}),
]


def demo_id(kind: str, name: str) -> UUID:
    return uuid5(DEMO, f"{kind}:{name}")


def seed_demo(directory: Directory) -> int:
    """Create whatever demo data is missing; return how many records were added. Through
    the directory's use cases, like any other door."""
    added, actor, app = 0, SYSTEM_ACTOR, directory.app
    clinic_ids, service_ids = [], []
    for name, address, zone, modalities in CLINICS:
        cid = demo_id("clinic", name)
        if cid not in app.get_many(cid):
            directory.register_clinic(ClinicCreate(name=name, address=address, time_zone=zone,
                                                   modalities=modalities), actor, id=cid)
            added += 1
        clinic_ids.append(cid)
    for name, minutes, modality in SERVICES:
        sid = demo_id("service", name)
        if sid not in app.get_many(sid):
            directory.register_service(ServiceCreate(name=name, duration_minutes=minutes,
                                                     modality=modality), actor, id=sid)
            added += 1
        service_ids.append(sid)
    for name, services, weekly in PROVIDERS:
        pid = demo_id("provider", name)
        if pid not in app.get_many(pid):
            directory.register_provider(ProviderCreate(
                display_name=name, clinic_ids=[clinic_ids[i] for i in weekly],
                service_ids=[service_ids[i] for i in services]), actor, id=pid)
            added += 1
        for i, pattern in weekly.items():
            hours = AvailabilityIn(weekly=Weekly.model_validate(pattern), horizon_days=30,
                                   granularity_minutes=15, min_notice_minutes=60)
            try:
                current = directory.schedule(pid, clinic_ids[i]).rules
            except NotFoundError:
                current = None
            if current != hours.to_domain():
                directory.publish_availability(pid, clinic_ids[i], hours, actor)
                added += 1
    log.info("demo data seeded", added=added)
    return added


def demo_sign_ins(issue: Callable[..., str]) -> list[tuple[str, str]]:
    """Development staff tokens for the demo's people (12 hours): who, and the token to
    paste at /staff. `issue` is TokenIssuer.issue."""
    harbor = demo_id("clinic", CLINICS[0][0])
    chen = demo_id("provider", PROVIDERS[0][0])
    ttl = 12 * 3600
    return [
        ("Front desk, Harbor Street Clinic",
         issue(Role.front_desk, "frontdesk@harbor", ttl, clinics=[harbor])),
        (f"Provider, {PROVIDERS[0][0]}", issue(Role.provider, str(chen), ttl, clinics=[harbor])),
        ("Compliance officer", issue(Role.compliance, "compliance@clinic", ttl)),
        ("Administrator", issue(Role.admin, "admin@clinic", ttl)),
    ]
