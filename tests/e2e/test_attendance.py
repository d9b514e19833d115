"""Attendance and the no-show rule over HTTP on real PostgreSQL and Redis: a scripted history
of missed visits shows in the patient's own attendance (and nobody else's), then restricts
them to one upcoming visit, which the front desk may exceed on record; a no-show is emailed a
way to another time (docs/attendance.md)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.delivery import deliver
from tests.e2e.clinic_flow import miss, open_slots, set_up_clinic, sign_up


def test_three_missed_visits_leave_one_upcoming_visit_at_a_time(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"], limit=60)
    ana, headers = sign_up(client, container, "ana@example.org")
    _, ben = sign_up(client, container, "ben@example.org")
    for slot in slots[10:12]:
        miss(client, container, headers, slot)
    twice = client.post("/bookings", headers=headers, json={"slot_id": slots[20]["id"]})
    assert twice.status_code == 201, twice.text  # two misses: the rule does not apply yet
    assert client.post(f"/bookings/{twice.json()['id']}/cancel", headers=headers,
                       json={}).status_code == 200
    miss(client, container, headers, slots[12])
    project()

    history = client.get(f"/patients/{ana}/attendance", headers=headers)
    assert history.status_code == 200, history.text
    assert {k: history.json()[k] for k in ("booked", "no_shows", "recent_no_shows",
                                           "cancelled", "attended", "upcoming")} == {
        "booked": 4, "no_shows": 3, "recent_no_shows": 3, "cancelled": 1, "attended": 0,
        "upcoming": 0}
    hidden = client.get(f"/patients/{ana}/attendance", headers=ben)
    assert hidden.status_code == 404

    first = client.post("/bookings", headers=headers, json={"slot_id": slots[30]["id"]})
    assert first.status_code == 201, first.text
    second = client.post("/bookings", headers=headers, json={"slot_id": slots[31]["id"]})
    assert second.status_code == 422 and second.json()["error"] == "no-show-limit"
    desk = token_for(Role.front_desk, "fd-1", clinics=[ids["clinic"]])
    beyond = client.post("/bookings", headers=desk, json={
        "slot_id": slots[31]["id"], "patient_id": ana, "exceed_visit_limit": True})
    assert beyond.status_code == 201, beyond.text


def test_a_missed_visit_is_emailed_a_way_to_another_time(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"], limit=20)
    _, headers = sign_up(client, container, "noor@example.org")
    miss(client, container, headers, slots[5])
    deliver(container)
    assert container.mailbox is not None
    [missed] = [m for m in container.mailbox.messages(20) if m["subject"] == "We missed you today"]
    assert missed["to"] == "noor@example.org"
    # The link opens the web page of the service's open times, not the JSON API's /slots.
    [link] = re.findall(r"https?://\S+", missed["body"])
    assert link == f"http://127.0.0.1:8000/times?service_id={ids['checkup']}"
    parts = urlsplit(link)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Checkup" in page.text and "open times" in page.text
