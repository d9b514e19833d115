"""From "I need care" to a confirmed visit over HTTP, and everything around it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.ports import HoldLimitReached
from domain.access import Role
from infra.wiring.container import Container
from tests.driver import drive
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up


def test_a_patient_holds_books_and_sees_the_visit(client: TestClient, container: Container,
                                                  token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    # Pick a time before signing in: an anonymous hold.
    hold = client.post("/holds", json={"slot_id": slot["id"]})
    assert hold.status_code == 201, hold.text
    hold_body = hold.json()
    assert slot["id"] not in [s["id"] for s in open_slots(client, ids["checkup"], 200)]

    patient_id, headers = sign_up(client, container, "ana@example.org")
    booked = client.post("/bookings", headers={**headers, "Idempotency-Key": "k-1"}, json={
        "slot_id": slot["id"], "reason": "sore throat",
        "hold_id": hold_body["hold_id"], "hold_secret": hold_body["hold_secret"]})
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert appointment["status"] == "booked" and "reason" not in appointment
    assert booked.headers["location"] == f"/bookings/{appointment['id']}"

    project()
    details = client.get(f"/bookings/{appointment['id']}", headers=headers).json()
    assert details["reason"] == "sore throat" and details["provider_name"] == "Dr. One"
    mine = client.get(f"/patients/{patient_id}/appointments", headers=headers).json()
    assert [a["id"] for a in mine] == [appointment["id"]]
    assert slot["id"] not in [s["id"] for s in open_slots(client, ids["checkup"], 200)]
    # The 60-minute service that overlaps the booked half hour is gone from search too.
    start = slot["start"]
    assert all(not (s["start"] <= start < s["end"]) for s in open_slots(client, ids["long"], 200))
    day = details["clinic_local_start"][:10]
    schedule = client.get(f"/providers/{ids['provider']}/schedule", params={"day": day},
                          headers=token_for(Role.provider, ids["provider"]))
    assert [a["id"] for a in schedule.json()] == [appointment["id"]]


def test_idempotency_key_replays_refuses_other_bodies(client: TestClient, container: Container,
                                                      token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    first, second = open_slots(client, ids["checkup"])[:2]
    _, headers = sign_up(client, container, "ben@example.org")
    keyed = {**headers, "Idempotency-Key": "retry-me"}
    one = client.post("/bookings", headers=keyed, json={"slot_id": first["id"]})
    again = client.post("/bookings", headers=keyed, json={"slot_id": first["id"]})
    assert one.status_code == again.status_code == 201
    assert one.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = client.post("/bookings", headers=keyed, json={"slot_id": second["id"]})
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency-key-reused"
    # Even with the Redis record gone, the event store refuses a second appointment.
    container.redis.delete(*container.redis.keys("idem:*"))
    replay = client.post("/bookings", headers=keyed, json={"slot_id": first["id"]})
    assert replay.status_code == 201 and replay.json()["id"] == one.json()["id"]


def test_a_slot_cannot_be_booked_twice(client: TestClient, container: Container,
                                       token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[3]
    _, ana = sign_up(client, container, "ana@example.org")
    _, ben = sign_up(client, container, "ben@example.org")
    assert client.post("/bookings", headers=ana, json={"slot_id": slot["id"]}).status_code == 201
    taken = client.post("/bookings", headers=ben, json={"slot_id": slot["id"]})
    assert taken.status_code == 409
    assert taken.json()["error"] == "slot-taken"
    # A different service overlapping the same time is refused as well.
    long_slot = next(s for s in open_slots(client, ids["long"], 200)
                     if s["start"] <= slot["start"] < s["end"])
    clash = client.post("/bookings", headers=ben, json={"slot_id": long_slot["id"]})
    assert clash.status_code == 409


def test_holds_protect_the_holder(client: TestClient, container: Container,
                                  token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"], 10)
    _, ana = sign_up(client, container, "ana@example.org")
    _, ben = sign_up(client, container, "ben@example.org")
    hold = client.post("/holds", headers=ana, json={"slot_id": slots[0]["id"]}).json()
    assert client.post("/holds", headers=ben, json={"slot_id": slots[0]["id"]}).status_code == 409
    blocked = client.post("/bookings", headers=ben, json={"slot_id": slots[0]["id"]})
    assert blocked.status_code == 409 and blocked.json()["error"] == "slot-held"
    forged = client.post("/bookings", headers=ben, json={
        "slot_id": slots[0]["id"], "hold_id": hold["hold_id"], "hold_secret": "guess"})
    assert forged.status_code == 409
    for slot in slots[1:3]:
        assert client.post("/holds", headers=ana, json={"slot_id": slot["id"]}).status_code == 201
    hoarding = client.post("/holds", headers=ana, json={"slot_id": slots[3]["id"]})
    assert hoarding.status_code == 429 and int(hoarding.headers["retry-after"]) > 0
    released = client.delete(f"/holds/{slots[0]['id']}/{hold['hold_id']}",
                             headers={"Hold-Secret": hold["hold_secret"]})
    assert released.status_code == 204
    # Releasing gave Ana's allowance back, and the time to everyone.
    assert client.post("/holds", headers=ana, json={"slot_id": slots[3]["id"]}).status_code == 201
    assert client.post("/bookings", headers=ben, json={"slot_id": slots[0]["id"]}
                       ).status_code == 201


def test_a_hold_is_released_only_by_its_own_id(container: Container) -> None:
    slot = uuid.uuid4()
    hold = container.holds.place(slot, "ip:probe", "s", 60_000, 1)
    assert hold is not None
    container.holds.release(slot, uuid.uuid4())  # another hold's id: nothing changes
    current = container.holds.holding(slot)
    assert current is not None and current[0].hold_id == hold.hold_id
    with pytest.raises(HoldLimitReached):  # the holder still holds its one allowed slot
        container.holds.place(uuid.uuid4(), "ip:probe", "s", 60_000, 1)
    container.holds.release(slot, hold.hold_id)
    assert container.holds.holding(slot) is None
    assert container.holds.place(uuid.uuid4(), "ip:probe", "s", 60_000, 1) is not None


def test_booking_needs_verification_and_consent(client: TestClient, container: Container,
                                                token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    video = open_slots(client, ids["long"])[0]
    _, headers = sign_up(client, container, "cara@example.org", consents=())
    refused = client.post("/bookings", headers=headers, json={"slot_id": video["id"]})
    assert refused.status_code == 422 and refused.json()["error"] == "consent-required"
    patient_id, headers = sign_up(client, container, "dan@example.org")
    no_video = client.post("/bookings", headers=headers, json={"slot_id": video["id"]})
    assert no_video.status_code == 422 and "telehealth" in no_video.json()["detail"]
    policies = {p["purpose"]: p["version"] for p in client.get("/consent-policies").json()}
    receipt = client.post(f"/patients/{patient_id}/consents", headers=headers, json={
        "purpose": "telehealth", "policy_version": policies["telehealth"]}).json()
    check = client.post("/consent-receipts/verify", json=receipt).json()
    assert check["valid"] is True and check["consent_status"] == "active"
    assert check["superseded"] is False
    tampered = {**receipt, "receipt": {**receipt["receipt"], "purpose": "treatment"}}
    assert client.post("/consent-receipts/verify", json=tampered).json()["valid"] is False
    assert client.post("/bookings", headers=headers, json={"slot_id": video["id"]}
                       ).status_code == 201
    granted = next(r for r in client.get(f"/patients/{patient_id}/consents",
                                         headers=headers).json()
                   if r["receipt"]["purpose"] == "treatment")
    revoked = client.delete(f"/patients/{patient_id}/consents/treatment", headers=headers)
    assert revoked.json()["receipt"]["status"] == "revoked"
    # The grant's receipt still verifies, and says that the consent was withdrawn, and when.
    later = client.post("/consent-receipts/verify", json=granted).json()
    assert later["valid"] is True and later["consent_status"] == "revoked"
    assert later["superseded"] is True
    assert later["status_since"].replace("Z", "+00:00") == revoked.json()["receipt"][
        "recorded_at"]
    stale = client.post(f"/patients/{patient_id}/consents", headers=headers, json={
        "purpose": "treatment", "policy_version": "1999-01-01"})
    assert stale.status_code == 422 and stale.json()["error"] == "stale-policy-version"


def test_cancel_reschedule_and_visit_steps(client: TestClient, container: Container,
                                           token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"], 20)
    _, headers = sign_up(client, container, "eve@example.org")
    booking = client.post("/bookings", headers=headers, json={"slot_id": slots[0]["id"]}).json()
    moved = client.post(f"/bookings/{booking['id']}/reschedule", headers=headers,
                        json={"slot_id": slots[5]["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot_id"] == slots[5]["id"]
    # The old time is free again: someone else can take it.
    _, other = sign_up(client, container, "fay@example.org")
    assert client.post("/bookings", headers=other, json={"slot_id": slots[0]["id"]}
                       ).status_code == 201
    # Moving onto a taken time changes nothing.
    clash = client.post(f"/bookings/{booking['id']}/reschedule", headers=headers,
                        json={"slot_id": slots[0]["id"]})
    assert clash.status_code == 409
    project()
    kept = client.get(f"/bookings/{booking['id']}", headers=headers).json()
    assert kept["slot_id"] == slots[5]["id"] and kept["reschedule_count"] == 1
    cancelled = client.post(f"/bookings/{booking['id']}/cancel", headers=headers,
                            json={"note": "feeling better"})
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["late_cancellation"] is True  # within 24 h of the start
    again = client.post(f"/bookings/{booking['id']}/cancel", headers=headers, json={})
    assert again.status_code == 422 and again.json()["error"] == "invalid-status-transition"
    staff = token_for(Role.front_desk, clinics=[ids["clinic"]])
    third = client.post("/bookings", headers=headers, json={"slot_id": slots[8]["id"]}).json()
    assert client.post(f"/bookings/{third['id']}/check-in", headers=staff
                       ).json()["status"] == "checked-in"
    assert client.post(f"/bookings/{third['id']}/complete", headers=staff
                       ).json()["status"] == "fulfilled"
    assert client.post(f"/bookings/{third['id']}/check-in", headers=headers).status_code == 403


def test_patients_see_only_their_own_records(client: TestClient, container: Container,
                                             token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    ana_id, ana = sign_up(client, container, "ana@example.org")
    ben_id, ben = sign_up(client, container, "ben@example.org")
    booking = client.post("/bookings", headers=ana, json={"slot_id": slot["id"]}).json()
    project()
    assert client.get(f"/bookings/{booking['id']}", headers=ben).status_code == 404
    assert client.get(f"/patients/{ana_id}", headers=ben).status_code == 404
    assert client.get(f"/patients/{ana_id}/appointments", headers=ben).status_code == 404
    assert client.post(f"/bookings/{booking['id']}/cancel", headers=ben, json={}
                       ).status_code == 404
    assert client.get(f"/patients/{ben_id}", headers=ben).json()["email"] == "ben@example.org"
    assert client.get(f"/bookings/{uuid.uuid4()}", headers=ana).status_code == 404


def test_codes_are_single_use_limited_and_throttled(client: TestClient,
                                                    container: Container) -> None:
    email = "gil@example.org"
    client.post("/patients", json={"given_name": "Gil", "family_name": "Ng",
                                   "birth_date": "1980-01-01", "email": email})
    code = last_code(container, email)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert client.post("/auth/verify", json={"email": email, "code": wrong}
                           ).status_code == 401
    assert client.post("/auth/verify", json={"email": email, "code": code}).status_code == 401
    assert client.post("/auth/email-code", json={"email": email}).status_code == 202
    fresh = last_code(container, email)
    assert client.post("/auth/verify", json={"email": email, "code": fresh}).status_code == 200
    assert client.post("/auth/verify", json={"email": email, "code": fresh}).status_code == 401
    unknown = client.post("/auth/email-code", json={"email": "nobody@example.org"})
    assert unknown.status_code == 202
    statuses = [client.post("/auth/email-code", json={"email": email}).status_code
                for _ in range(6)]
    assert statuses[-1] == 429


def test_registering_twice_keeps_one_patient(client: TestClient, container: Container) -> None:
    body = {"given_name": "Hal", "family_name": "Ito", "birth_date": "1975-05-05",
            "email": "Hal@Example.org"}
    first = client.post("/patients", json=body).json()["patient_id"]
    # Once the address is proven (an unproven one goes to the newest registration:
    # tests/e2e/test_email_squatting.py), it keeps its one patient and their details.
    assert client.post("/auth/verify", json={
        "email": "hal@example.org", "code": last_code(container, "hal@example.org"),
        "patient_id": first}).status_code == 200
    second = client.post("/patients", json={**body, "email": "hal@example.org",
                                            "given_name": "Mallory"}).json()["patient_id"]
    assert first == second
    assert drive(container).patient(uuid.UUID(first)).given_name == "Hal"
    bad = client.post("/patients", json={**body, "email": "not-an-email"})
    assert bad.status_code == 422
    future = client.post("/patients", json={**body, "email": "x@example.org",
                                            "birth_date": "2999-01-01"})
    assert future.status_code == 422 and future.json()["error"] == "invalid-patient"


def test_hours_that_would_strand_a_booking_are_refused(
    client: TestClient, container: Container, token_for: Any, project: Any
) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[2]
    _, headers = sign_up(client, container, "ida@example.org")
    assert client.post("/bookings", headers=headers, json={"slot_id": slot["id"]}
                       ).status_code == 201
    url = f"/providers/{ids['provider']}/availability/{ids['clinic']}"
    nothing = {"weekly": {}, "horizon_days": 5}
    refused = client.put(url, headers=token_for(Role.admin), json=nothing)
    assert refused.status_code == 409
    assert refused.json()["error"] == "availability-conflicts-with-bookings"
    assert "1 booked visit" in refused.json()["detail"]
    kept = client.get(url).json()["rules"]["weekly"]["monday"]
    assert kept == [["00:00", "24:00"]]


def test_clinic_local_start_is_a_date_time_with_its_offset(
    client: TestClient, container: Container, token_for: Any, project: Any
) -> None:
    # It was the bare wall time ("2026-11-24T17:30:00"), not the RFC 3339 date-time the
    # document promises. Found by tests/e2e/test_openapi_fuzz.py.
    from datetime import datetime

    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    patient_id, headers = sign_up(client, container, "jo@example.org")
    booking = client.post("/bookings", headers=headers, json={"slot_id": slot["id"]}).json()
    project()
    one = client.get(f"/bookings/{booking['id']}", headers=headers).json()
    mine = client.get(f"/patients/{patient_id}/appointments", headers=headers).json()
    day = client.get(f"/providers/{ids['provider']}/schedule", headers=token_for(Role.admin),
                     params={"day": one["clinic_local_start"][:10]}).json()
    for shown in (one, mine[0], day[0]):
        local = datetime.fromisoformat(shown["clinic_local_start"])
        assert local.utcoffset() is not None
        assert local == datetime.fromisoformat(shown["start"]) == \
            datetime.fromisoformat(slot["clinic_local_start"])


def test_numbers_are_not_dates(client: TestClient, token_for: Any) -> None:
    # pydantic's lax mode read 0 as the Unix epoch: a patient born 1970-01-01, a schedule of
    # that day. The document says YYYY-MM-DD. Found by tests/e2e/test_openapi_fuzz.py.
    body = {"given_name": "Kai", "family_name": "Oz", "email": "kai@example.org"}
    for birth_date in (0, "0", "86400"):
        refused = client.post("/patients", json={**body, "birth_date": birth_date})
        assert refused.status_code == 422, birth_date
        assert refused.json()["errors"][0]["location"] == ["body", "birth_date"]
    assert client.post("/patients", json={**body, "birth_date": "1990-04-01"}
                       ).status_code == 202
    schedule = f"/providers/{uuid.uuid4()}/schedule"
    for day in ("0", "1700000000", "2026-12-01T00:00:00"):
        assert client.get(schedule, params={"day": day}, headers=token_for(Role.admin)
                          ).status_code == 422, day
    assert client.get(schedule, params={"day": "2026-12-01"}, headers=token_for(Role.admin)
                      ).status_code == 200


def test_a_receipt_signature_that_is_not_base64_is_invalid_input(client: TestClient) -> None:
    # A non-ASCII signature made hmac.compare_digest raise TypeError: a 500.
    # Found by tests/e2e/test_openapi_fuzz.py.
    for signature in ("\u0080", "é" * 88, "z" * 64, "A" * 86 + "=\u0080"):
        response = client.post("/consent-receipts/verify",
                               json={"receipt": {}, "key_id": "00000000",
                                     "signature": signature})
        assert response.status_code == 422, signature
        assert response.json()["type"] == "urn:clinic:problem:validation-error"
    assert client.post("/consent-receipts/verify", json={
        "receipt": {}, "key_id": "00000000", "signature": "A" * 86 + "=="}
                       ).json()["valid"] is False
