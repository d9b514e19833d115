"""GET /metrics after a patient's path: the request histogram by route template, bookings by
outcome, slot-taken conflicts, sign-in code failures, holds, each projector's position and lag,
the relay and the notifier; and never an id or an email address in a label."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from infra.observability.state import PROJECTORS
from infra.redis.holds import active_holds
from infra.wiring.container import Container
from tests.delivery import deliver
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I)


def scrape(client: TestClient) -> list[Sample]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(response.text)
            for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The one sample with this name and (at least) these labels."""
    found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return float(found[0].value)


def test_a_scrape_after_a_booking_shows_what_happened(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"])
    _ana, ana = sign_up(client, container, "ana@example.org")
    _ben, ben = sign_up(client, container, "ben@example.org")
    _wrong_code(client, container, "ana@example.org")
    booked = client.post("/bookings", headers=ana, json={"slot_id": slots[0]["id"]})
    assert booked.status_code == 201, booked.text
    taken = client.post("/bookings", headers=ben, json={"slot_id": slots[0]["id"]})
    assert taken.status_code == 409 and taken.json()["error"] == "slot-taken", taken.text
    # Not projected yet: a 404, counted under the route's template, not its id.
    assert client.get(f"/bookings/{booked.json()['id']}", headers=ana).status_code == 404
    assert client.post("/holds", json={"slot_id": slots[1]["id"]}).status_code == 201
    samples = scrape(client)  # the booking is not projected or relayed yet

    count = "clinic_http_request_duration_seconds_count"
    assert value(samples, count, method="POST", route="/bookings", status="201") >= 1
    assert value(samples, count, method="POST", route="/bookings", status="409") >= 1
    assert value(samples, count, method="GET", route="/bookings/{appointment_id}",
                 status="404") >= 1
    assert value(samples, "clinic_http_request_duration_seconds_bucket", method="POST",
                 route="/bookings", status="201", le="+Inf") >= 1
    assert value(samples, "clinic_bookings_total", outcome="booked") >= 1
    assert value(samples, "clinic_bookings_total", outcome="conflict") >= 1
    assert value(samples, "clinic_booking_conflicts_total", command="book") >= 1
    assert value(samples, "clinic_otp_failures_total", reason="wrong") >= 1
    assert value(samples, "clinic_holds_active") >= 1
    assert value(samples, "clinic_notifier_messages_total", outcome="sent") >= 2  # two codes
    assert value(samples, "clinic_relay_messages_published_total",
                 topic="clinic.patients.v1") >= 2
    assert value(samples, "clinic_relay_publish_failures_total") >= 0
    for source in ("postgres", "redis"):
        assert value(samples, "clinic_state_up", source=source) == 1

    head = value(samples, "clinic_event_log_head")
    for projector in PROJECTORS:
        position = value(samples, "clinic_projection_position", projector=projector)
        lag = value(samples, "clinic_projection_lag_events", projector=projector)
        assert 0 <= position <= head and lag == head - position, projector
        assert value(samples, "clinic_projection_lag_seconds", projector=projector) >= 0
    # The booking's events are recorded, not yet applied or published.
    assert value(samples, "clinic_projection_lag_events", projector="appointments") >= 1
    assert value(samples, "clinic_projection_lag_seconds", projector="appointments") > 0
    assert value(samples, "clinic_relay_lag_events") == value(
        samples, "clinic_projection_lag_events", projector="relay") >= 1

    leaks = [s for s in samples for v in s.labels.values() if UUID.search(v) or EMAIL.search(v)]
    assert not leaks, leaks


def test_a_caught_up_projector_has_no_lag(client: TestClient, token_for: Any,
                                          project: Any, container: Container) -> None:
    set_up_clinic(client, token_for)
    project()
    deliver(container)
    samples = scrape(client)
    for projector in PROJECTORS:
        assert value(samples, "clinic_projection_lag_events", projector=projector) == 0
        assert value(samples, "clinic_projection_lag_seconds", projector=projector) == 0
    assert value(samples, "clinic_projection_position", projector="slot_search") == value(
        samples, "clinic_event_log_head") > 0


def test_unknown_paths_share_one_series_and_ids_in_paths_become_templates(
        client: TestClient, token_for: Any) -> None:
    for n in range(3):
        assert client.get(f"/no-such-page/{n}").status_code == 404
    missing = "/clinics/3f0c6a51-0000-4000-8000-000000000000"
    assert client.get(missing).status_code == 404
    samples = scrape(client)
    routes = {s.labels["route"] for s in samples if "route" in s.labels}
    assert "unmatched" in routes and "/clinics/{clinic_id}" in routes
    assert not any(r.startswith("/no-such-page") or r == missing for r in routes)


def test_unknown_email_counts_as_an_expired_code(client: TestClient) -> None:
    before = value(scrape(client), "clinic_otp_failures_total", reason="expired")
    refused = client.post("/auth/verify", json={"email": "nobody@example.org",
                                                "code": "123456"})
    assert refused.status_code == 401
    assert value(scrape(client), "clinic_otp_failures_total", reason="expired") == before + 1


def test_active_holds_leave_the_count_when_released_or_expired(container: Container) -> None:
    slots = [uuid.uuid4() for _ in range(3)]
    kept = container.holds.place(slots[0], "ip:a", "s", 60_000, 3)
    released = container.holds.place(slots[1], "ip:a", "s", 60_000, 3)
    assert kept and released and container.holds.place(slots[2], "ip:b", "s", 50, 3)
    assert active_holds(container.redis) == 3
    container.holds.release(slots[1], released.hold_id)
    time.sleep(0.1)  # the 50 ms hold expires
    assert active_holds(container.redis) == 1


def _wrong_code(client: TestClient, container: Container, email: str) -> None:
    """Ask for a fresh code, then send a different one."""
    assert client.post("/auth/email-code", json={"email": email}).status_code == 202
    right = last_code(container, email)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = client.post("/auth/verify", json={"email": email, "code": wrong})
    assert refused.status_code == 401, refused.text
