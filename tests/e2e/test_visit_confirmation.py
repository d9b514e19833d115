"""The no-show rule's confirmation step over HTTP on real PostgreSQL and Redis (docs/attendance.md):
a scripted history of missed visits makes the next visit a day ahead await confirmation (the
link in the booking email); unconfirmed, the reminder worker releases it when the time to
confirm is over and the waitlist offers it on; a confirmed visit stays; a clinic sets its own
rule (admin only) or returns to the default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from infra.wiring.reminders import build_scheduler
from tests.delivery import deliver
from tests.e2e.clinic_flow import miss, open_slots, set_up_clinic, sign_up
from tests.e2e.waitlist_flow import entry, join, matching


def _after_three_misses(client: TestClient, container: Container, token_for: Any,
                        project: Any, consents: tuple[str, ...] = ("treatment",)
                        ) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, str]]:
    """A clinic, its open times, and Ana, who missed three visits there."""
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"], limit=200)
    _, ana = sign_up(client, container, "ana@example.org", consents)
    for slot in slots[2:5]:
        miss(client, container, ana, slot)
    return ids, slots, ana


def _a_day_ahead(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    soon = datetime.now(UTC) + timedelta(hours=25)
    return [slot for slot in slots if datetime.fromisoformat(slot["start"]) >= soon]


def _released_at(container: Container, project: Any, moment: datetime) -> int:
    """One pass of the reminder worker's release step at `moment`, read models caught up."""
    scheduler, resources = build_scheduler(container.settings, clock=lambda: moment)
    try:
        project()
        released = scheduler.release_lapsed(moment)
        project()
        return released
    finally:
        for resource in resources:
            resource.close()


def test_after_three_misses_an_unconfirmed_visit_is_released_and_offered_on(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots, ana = _after_three_misses(client, container, token_for, project)
    later = _a_day_ahead(slots)
    _, ben = sign_up(client, container, "ben@example.org")
    waiting = join(client, ben, ids["checkup"], later[-1]["end"])

    booked = client.post("/bookings", headers=ana, json={"slot_id": later[0]["id"]})
    assert booked.status_code == 201, booked.text
    start = datetime.fromisoformat(booked.json()["start"])
    deadline = datetime.fromisoformat(booked.json()["confirm_by"])
    assert deadline == start - timedelta(hours=6)
    visit = booked.json()["id"]
    deliver(container)
    assert container.mailbox is not None
    [mail] = [m for m in container.mailbox.messages(50)
              if m["to"] == "ana@example.org" and m["subject"] == "Your visit is booked"][-1:]
    assert f"/visits/{visit}/confirm" in mail["body"]  # the web page that asks

    assert _released_at(container, project, deadline - timedelta(minutes=1)) == 0
    assert _released_at(container, project, deadline + timedelta(minutes=1)) == 1
    read = client.get(f"/bookings/{visit}", headers=ana).json()
    assert read["status"] == "cancelled" and read["late_cancellation"] is False
    too_late = client.post(f"/bookings/{visit}/confirm", headers=ana)
    assert too_late.status_code == 422 and too_late.json()["error"] == "invalid-status-transition"
    assert _released_at(container, project, deadline + timedelta(minutes=2)) == 0

    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
        offered = entry(client, ben, waiting["id"])
        assert offered["status"] == "offered" and offered["offer"]["slot_id"] == later[0]["id"]


def test_a_confirmed_visit_stays_and_only_its_patient_or_staff_confirm_it(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots, ana = _after_three_misses(client, container, token_for, project)
    _, ben = sign_up(client, container, "ben@example.org")
    booked = client.post("/bookings", headers=ana, json={"slot_id": _a_day_ahead(slots)[0]["id"]})
    assert booked.status_code == 201, booked.text
    visit, deadline = booked.json()["id"], datetime.fromisoformat(booked.json()["confirm_by"])

    assert client.post(f"/bookings/{visit}/confirm", headers=ben).status_code == 404
    desk = token_for(Role.front_desk, "fd-1", clinics=[ids["clinic"]])
    confirmed = client.post(f"/bookings/{visit}/confirm", headers=desk)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirm_by"] is None
    again = client.post(f"/bookings/{visit}/confirm", headers=ana)
    assert again.status_code == 200 and again.json()["version"] == confirmed.json()["version"]
    assert _released_at(container, project, deadline + timedelta(minutes=1)) == 0
    assert client.get(f"/bookings/{visit}", headers=ana).json()["status"] == "booked"


def test_a_clinic_sets_its_own_rule_and_returns_to_the_default(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots, ana = _after_three_misses(client, container, token_for, project)
    path = f"/clinics/{ids['clinic']}/no-show-policy"
    default = client.get(path)
    assert default.status_code == 200 and default.json()["source"] == "default"
    assert default.json()["confirm"] is True and default.json()["no_shows"] == 3

    own = {"no_shows": 3, "within_days": 90, "upcoming": 0, "confirm": False,
           "release_hours": 4}
    assert client.put(path, headers=ana, json=own).status_code == 403
    bad = client.put(path, headers=token_for(Role.admin), json={**own, "release_hours": 24})
    assert bad.status_code == 422
    assert client.get(path).json()["source"] == "default"  # nothing changed
    admin = token_for(Role.admin)
    set_ = client.put(path, headers=admin, json=own)
    assert set_.status_code == 200 and set_.json() == {**own, "clinic_id": ids["clinic"],
                                                       "source": "clinic"}
    later = _a_day_ahead(slots)
    for slot in later[:2]:  # no confirmation, no one-visit limit under this clinic's rule
        booked = client.post("/bookings", headers=ana, json={"slot_id": slot["id"]})
        assert booked.status_code == 201 and booked.json()["confirm_by"] is None, booked.text

    back = client.delete(path, headers=admin)
    assert back.status_code == 200 and back.json()["source"] == "default"
    refused = client.post("/bookings", headers=ana, json={"slot_id": later[2]["id"]})
    assert refused.status_code == 422 and refused.json()["error"] == "no-show-limit"


def test_the_day_ahead_reminder_asks_for_the_confirmation_too(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    _, slots, ana = _after_three_misses(client, container, token_for, project,
                                        ("treatment", "reminders_email"))
    later = _a_day_ahead(slots)
    booked = client.post("/bookings", headers=ana, json={"slot_id": later[0]["id"]})
    assert booked.status_code == 201 and booked.json()["confirm_by"], booked.text
    visit, start = booked.json()["id"], datetime.fromisoformat(booked.json()["start"])
    day_before = start - timedelta(hours=24) + timedelta(minutes=1)
    scheduler, resources = build_scheduler(container.settings, clock=lambda: day_before)
    try:
        project()
        assert scheduler.run_once() >= 1  # the 24-hour reminder is due
    finally:
        for resource in resources:
            resource.close()
    deliver(container)
    assert container.mailbox is not None
    reminders = [m for m in container.mailbox.messages(50)
                 if m["to"] == "ana@example.org" and m["subject"].startswith("Reminder")]
    assert reminders, [m["subject"] for m in container.mailbox.messages(50)]
    assert f"/visits/{visit}/confirm" in reminders[-1]["body"]
