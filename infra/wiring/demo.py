"""Demo clinics, providers, services and hours, seeded idempotently through the commands.

Ids derive from names (uuid5), so a second run finds everything in place and adds nothing.
"""

from __future__ import annotations

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
# display name, clinic indexes, service indexes, hours pattern
PROVIDERS = [
    ("Dr. Maya Chen", [0], [0, 1, 2], "early"),
    ("Dr. Samuel Okafor", [0, 3], [0, 2], "standard"),
    ("Dr. Priya Raman", [1], [0, 1], "standard"),
    ("Dr. Luis Herrera", [1, 2], [2, 3], "late"),
    ("Dr. Hannah Weiss", [2], [2, 3], "standard"),
    ("Dr. Kwame Mensah", [3], [0, 1, 2], "early"),
    ("Dr. Elena Petrova", [3], [0, 3], "late"),
    ("Dr. Aiko Tanaka", [0, 1], [1, 2, 3], "saturday"),
]
PATTERNS = {
    "early": {d: [["07:30", "11:30"], ["12:30", "15:30"]] for d in WEEKDAYS},
    "standard": {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in WEEKDAYS},
    "late": {d: [["11:00", "14:00"], ["15:00", "19:00"]] for d in WEEKDAYS},
    "saturday": {"saturday": [["09:00", "13:00"]], "wednesday": [["14:00", "18:00"]]},
}


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
    for name, clinics, services, pattern in PROVIDERS:
        pid = demo_id("provider", name)
        if pid not in app.get_many(pid):
            directory.register_provider(ProviderCreate(
                display_name=name, clinic_ids=[clinic_ids[i] for i in clinics],
                service_ids=[service_ids[i] for i in services]), actor, id=pid)
            added += 1
        hours = AvailabilityIn(weekly=Weekly.model_validate(PATTERNS[pattern]),
                               horizon_days=30, granularity_minutes=15, min_notice_minutes=60)
        for i in clinics:
            try:
                current = directory.schedule(pid, clinic_ids[i]).rules
            except NotFoundError:
                current = None
            if current != hours.to_domain():
                directory.publish_availability(pid, clinic_ids[i], hours, actor)
                added += 1
    log.info("demo data seeded", added=added)
    return added
