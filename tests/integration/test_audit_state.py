"""Any record as it stood at a moment (issue "Compliance officers", point in time): rebuilt
from its events up to then, with what changed since; a shredded patient's PHI reads erased."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from commands.audit import WITHHELD
from commands.context import Actor
from commands.waitlist import WaitlistJoin
from domain.access import PurposeOfUse, Role
from domain.agendas import PatientAgenda
from domain.calendars import ProviderCalendar, calendar_days
from domain.clinics import Address
from domain.consent import POLICIES, Consent, Purpose
from domain.modality import Modality
from domain.patients import ErasureBasis
from domain.privacy import ERASED
from domain.schedules import Schedule
from infra.wiring.container import Container
from tests.builders import ALL_DAY, build_world, first_slot, rules
from tests.driver import drive


def test_an_appointment_and_its_patient_as_they_stood_at_each_step(
        container: Container) -> None:
    app = drive(container)
    world = build_world(app)
    doctor, clinic = world.second_provider, world.second_clinic
    app.publish_availability(doctor, clinic, rules(ALL_DAY, min_notice_minutes=0))
    patient, _ = app.register_patient("Rosa", "Past", date(1970, 5, 5), "rosa@example.org",
                                      None)
    app.verify_patient_email(patient)
    app.grant_consent(patient, Purpose.treatment, POLICIES[Purpose.treatment].version, "web")
    first = first_slot(app, doctor, clinic, world.checkup, datetime.now(UTC) + timedelta(days=2))
    visit = app.book(patient, first, "back pain", datetime.now(UTC)).id
    booked_at = datetime.now(UTC)
    later = first_slot(app, doctor, clinic, world.checkup, first.start + timedelta(hours=3))
    app.reschedule(visit, later, datetime.now(UTC))
    moved_at = datetime.now(UTC)
    container.use_cases.bookings.cancel(visit, "patient called",
                                        Actor("desk-9", Role.front_desk, purpose="operations"))
    cancelled_at = datetime.now(UTC)
    audit = container.use_cases.audit
    officer = Actor("officer-1", Role.compliance, purpose="compliance")

    then = audit.state_at(visit, booked_at, officer, show_phi_for=PurposeOfUse.legal)
    assert then.kind == "Appointment" and then.version == 1
    assert then.state["start"] == first.start.isoformat() and then.state["status"] == "booked"
    assert then.state["reason"] == "back pain"
    assert [c.event for c in then.changes_since] == ["Appointment.Rescheduled",
                                                     "Appointment.Cancelled"]
    assert then.changes_since[-1].actor == "desk-9"
    assert audit.state_at(visit, booked_at, officer).state["reason"] == WITHHELD  # no purpose
    moved = audit.state_at(visit, moved_at, officer)
    assert moved.state["start"] == later.start.isoformat() and moved.state["status"] == "booked"
    assert audit.state_at(visit, cancelled_at, officer).state["status"] == "cancelled"

    before_erasure = datetime.now(UTC)
    app.record_erasure(patient, ErasureBasis.request)
    app.shred_personal_data(patient)
    past = audit.state_at(patient, before_erasure, officer, show_phi_for=PurposeOfUse.legal)
    assert past.state["email_verified"] is True and past.state["erased"] is False
    assert past.state["given_name"] == past.state["family_name"] == ERASED  # key shredded
    assert [c.event for c in past.changes_since] == ["Patient.Erased"]


def test_clinic_audit_state_prints_the_record_then(container: Container, tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    app = drive(container)
    clinic = build_world(app).clinic
    as_of = datetime.now(UTC)
    app.revise_clinic(clinic, "Harbor Renamed", Address("1 Main St", "Boston", "MA", "02110"),
                      [Modality.in_person])
    settings = container.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
        "CLINIC_DATA_DIR": str(tmp_path), "CLINIC_DATABASE_URL": str(settings.database_url),
        "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema}
    out = subprocess.run([sys.executable, "-m", "infra.cli.main", "audit", "state",
                          "--aggregate", str(clinic), "--as-of", as_of.isoformat()],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    past = json.loads(out.stdout)
    assert past["kind"] == "Clinic" and past["state"]["name"] == "Harbor"
    assert [c["event"] for c in past["changes_since"]] == ["Clinic.Revised"]


def test_every_kind_of_record_as_it_stood_before_its_change(container: Container) -> None:
    """Service, Provider, Schedule, Consent, WaitlistEntry, ProviderCalendar and
    PatientAgenda: each rebuilt as it was before its change, the change listed since."""
    app = drive(container)
    world = build_world(app)
    use_cases = container.use_cases
    patient = app.ready_patient("Vera", "Kinds", "vera.kinds@example.org")
    as_patient = Actor(str(patient), Role.patient)
    entry = use_cases.waitlist.join(WaitlistJoin(
        service_id=world.checkup, not_after=datetime.now(UTC) + timedelta(days=30)),
        as_patient).result.id
    slot = first_slot(app, world.provider, world.clinic, world.checkup,
                      datetime.now(UTC) + timedelta(days=2))
    visit = app.book(patient, slot, "knee", datetime.now(UTC)).id
    [day] = calendar_days(slot.start, slot.end)
    records = {
        "Service": world.checkup, "Provider": world.provider,
        "Schedule": Schedule.create_id(world.provider, world.clinic),
        "Consent": Consent.create_id(patient, Purpose.treatment.value),
        "WaitlistEntry": entry,
        "ProviderCalendar": ProviderCalendar.create_id(world.provider, day.isoformat()),
        "PatientAgenda": PatientAgenda.create_id(patient)}
    audit, officer = use_cases.audit, Actor("officer-2", Role.compliance, purpose="compliance")
    then = {kind: audit.state_at(record, datetime.now(UTC), officer)
            for kind, record in records.items()}
    as_of = datetime.now(UTC)

    app.revise_service(world.checkup, "Checkup (adult)", 30, Modality.in_person)
    app.revise_provider(world.provider, "Dr. One-Renamed", [world.clinic, world.second_clinic],
                        [world.checkup, world.video])
    app.publish_availability(world.provider, world.clinic, rules(horizon_days=20))
    use_cases.waitlist.leave(entry, as_patient)
    use_cases.bookings.cancel(visit, "", as_patient)
    use_cases.consents.revoke(patient, Purpose.treatment, as_patient)

    changed = {"Service": ["Service.Revised"], "Provider": ["Provider.Revised"],
               "Schedule": ["Schedule.RulesChanged"], "Consent": ["Consent.Revoked"],
               "WaitlistEntry": ["WaitlistEntry.Left"],
               "ProviderCalendar": ["ProviderCalendar.Released"],
               "PatientAgenda": ["PatientAgenda.Released"]}
    for kind, record in records.items():
        past = audit.state_at(record, as_of, officer)
        assert past.kind == kind
        assert (past.version, past.state) == (then[kind].version, then[kind].state), kind
        assert [c.event for c in past.changes_since] == changed[kind], kind
        now = audit.state_at(record, datetime.now(UTC), officer)
        assert now.version == past.version + len(changed[kind]) and now.state != past.state
    assert then["Service"].state["name"] == "Checkup"
    assert then["Provider"].state["display_name"] == "Dr. One"
    assert then["Schedule"].state["rules_data"]["horizon_days"] == 14
    assert then["Consent"].state["active"] is True
    assert then["WaitlistEntry"].state["status"] == "waiting"
    assert str(visit) in then["ProviderCalendar"].state["reservations"]
    assert audit.state_at(records["Consent"], datetime.now(UTC), officer).state[
        "active"] is False
