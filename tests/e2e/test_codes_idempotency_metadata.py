"""Code expiry, an Idempotency-Key still in flight, and who-did-what on every event."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.eventstore.mapper import event_meta
from infra.wiring.container import Container
from tests.driver import drive
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up


def test_an_expired_code_is_refused(client: TestClient, container: Container) -> None:
    email = "jo@example.org"
    client.post("/patients", json={"given_name": "Jo", "family_name": "Li",
                                   "birth_date": "1970-02-02", "email": email})
    code = last_code(container, email)
    patient_id = drive(container).patient_for_email(email)
    key = f"otp:{patient_id}"
    assert 590 <= container.redis.ttl(key) <= 600  # valid ten minutes
    stored = container.redis.hgetall(key)
    assert code.encode() not in b"".join(stored.values())  # kept hashed only
    container.redis.pexpire(key, 50)
    time.sleep(0.1)
    assert client.post("/auth/verify", json={"email": email, "code": code}).status_code == 401


def test_a_request_still_in_flight_is_409(client: TestClient, container: Container,
                                          token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    patient_id, headers = sign_up(client, container, "kim@example.org")
    body = {"slot_id": slot["id"]}
    # The first request with this key is being processed by another API process right now.
    from commands.booking import BookingCreate

    command = b"POST /bookings\n" + BookingCreate(**body).model_dump_json().encode()
    container.idempotency.begin(f"{patient_id}:POST:/bookings", "busy-key", command)
    busy = client.post("/bookings", headers={**headers, "Idempotency-Key": "busy-key"},
                       json=body)
    assert busy.status_code == 409 and busy.json()["error"] == "idempotency-key-in-flight"
    assert busy.headers["retry-after"] == "1"
    bad_key = client.post("/bookings", headers={**headers, "Idempotency-Key": "bad key\t"},
                          json=body)
    assert bad_key.status_code == 422


def test_every_command_records_actor_role_request_and_reason(
    client: TestClient, container: Container, token_for: Any, project: Any
) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    patient_id, headers = sign_up(client, container, "lu@example.org")
    booked = client.post("/bookings", json={"slot_id": slot["id"]},
                         headers={**headers, "X-Request-ID": "req-booking-0001"}).json()
    client.post(f"/bookings/{booked['id']}/cancel", json={},
                headers={**token_for(Role.front_desk, "desk-7", clinics=[ids["clinic"]]),
                         "X-Purpose-Of-Use": "treatment",
                         "X-Request-ID": "req-cancel-0001"})
    events = list(container.app.events.get(uuid.UUID(booked["id"])))
    assert [type(e).__name__ for e in events] == ["Booked", "Cancelled"]
    assert event_meta(events[0]) == {"actor": patient_id, "role": "patient",
                                     "request_id": "req-booking-0001", "reason": "booking",
                                     "purpose": "patient-request", "channel": "api"}
    assert event_meta(events[1]) == {"actor": "desk-7", "role": "front_desk",
                                     "request_id": "req-cancel-0001",
                                     "reason": "cancellation", "purpose": "treatment",
                                     "channel": "api"}
    clinic_events = list(container.app.events.get(uuid.UUID(ids["clinic"])))
    assert event_meta(clinic_events[0])["role"] == "admin"
