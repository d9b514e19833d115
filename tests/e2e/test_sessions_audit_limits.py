"""Patient sessions (idle, absolute, sign-out, erasure), the access audit (PHI reads and
refusals, for the compliance role), purpose of use, and rate limits answering 429."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up


def _session_key(container: Container) -> str:
    keys = [k.decode() for k in container.redis.scan_iter("session:*")]
    assert len(keys) == 1
    return keys[0]


def test_a_patient_session_ends_when_idle_too_long(client: TestClient,
                                                    container: Container) -> None:
    patient_id, headers = sign_up(client, container, "idle@example.org")
    assert client.get(f"/patients/{patient_id}", headers=headers).status_code == 200
    key = _session_key(container)
    idle = container.settings.patient_idle_minutes * 60
    assert idle - 5 <= container.redis.ttl(key) <= idle  # every request restarts the clock
    container.redis.delete(key)  # what Redis does when the idle TTL runs out
    ended = client.get(f"/patients/{patient_id}", headers=headers)
    assert ended.status_code == 401 and ended.json()["error"] == "session-ended"


def test_a_patient_session_ends_at_its_absolute_limit(client: TestClient,
                                                      container: Container) -> None:
    patient_id, headers = sign_up(client, container, "long@example.org")
    key = _session_key(container)
    container.redis.set(key, f"{patient_id}|{int(time.time()) - 1}", keepttl=True)
    assert client.get(f"/patients/{patient_id}", headers=headers).status_code == 401
    grant = container.sessions.sign_in(patient_id)
    assert grant.expires_in == int(container.settings.patient_session_hours * 3600)
    claims = container.tokens.verify(grant.access_token)
    assert claims.session_id is not None


def test_sign_out_and_erasure_end_sessions(client: TestClient, container: Container,
                                           token_for: Any) -> None:
    patient_id, headers = sign_up(client, container, "bye@example.org")
    assert client.post("/auth/sign-out", headers=headers).status_code == 204
    assert client.get(f"/patients/{patient_id}", headers=headers).status_code == 401
    token = client.post("/auth/email-code", json={"email": "bye@example.org"})
    assert token.status_code == 202
    again = client.post("/auth/verify", json={"email": "bye@example.org",
                                              "code": last_code(container, "bye@example.org")})
    headers = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert client.get(f"/patients/{patient_id}", headers=headers).status_code == 200
    erased = client.post(f"/admin/patients/{patient_id}/erase", headers=token_for(Role.admin),
                         json={"basis": "patient-request"})
    assert erased.status_code == 200 and erased.json()["sessions_ended"] == 1
    assert client.get(f"/patients/{patient_id}", headers=headers).status_code == 401


def test_a_patient_token_without_a_session_is_refused(client: TestClient,
                                                      container: Container) -> None:
    patient_id, _ = sign_up(client, container, "forged@example.org")
    bare = container.tokens.issue(Role.patient, patient_id, 600)
    answer = client.get(f"/patients/{patient_id}", headers={"Authorization": f"Bearer {bare}"})
    assert answer.status_code == 401


def test_phi_reads_and_refusals_are_audited_for_compliance(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    ana_id, ana = sign_up(client, container, "ana@example.org")
    ben_id, ben = sign_up(client, container, "ben@example.org")
    slot = open_slots(client, ids["checkup"])[0]
    booked = client.post("/bookings", headers=ana, json={
        "slot_id": slot["id"], "reason": "cough"}).json()
    project()
    desk = {**token_for(Role.front_desk, "desk-1", clinics=[ids["clinic"]]),
            "X-Purpose-Of-Use": "Treatment ",
            "X-Request-ID": "req-read-00001"}  # the purpose as typed: case and spaces aside
    assert client.get(f"/bookings/{booked['id']}", headers=desk).status_code == 200
    assert client.get(f"/patients/{ana_id}", headers=desk).status_code == 200
    assert client.get(f"/patients/{ana_id}", headers={
        **desk, "X-Purpose-Of-Use": "curiosity"}).status_code == 422
    assert client.get(f"/patients/{ana_id}", headers=ben).status_code == 404  # not Ben's
    assert client.get(f"/bookings/{booked['id']}", headers=ben).status_code == 404
    assert client.get(f"/patients/{ana_id}").status_code == 401
    assert client.get("/audit-events", headers=token_for(Role.analyst)).status_code == 403
    doctor = token_for(Role.provider, ids["provider"])
    day = client.get(f"/providers/{ids['provider']}/schedule", headers=doctor,
                     params={"day": slot["clinic_local_start"][:10]})
    assert day.status_code == 200 and [a["patient_id"] for a in day.json()] == [ana_id]

    compliance = token_for(Role.compliance, "officer-1")
    page = client.get("/audit-events", headers=compliance,
                      params={"patient_id": ana_id, "limit": 50})
    assert page.status_code == 200, page.text
    events = page.json()["events"]
    reads = [e for e in events if e["outcome"] == "allowed" and e["actor"] == "desk-1"]
    assert {(e["resource"], e["purpose"], e["request_id"]) for e in reads} == {
        ("GET /bookings/{appointment_id}", "treatment", "req-read-00001"),
        ("GET /patients/{patient_id}", "treatment", "req-read-00001")}
    denied = [e for e in events if e["outcome"] == "denied"]
    assert {(e["actor"], e["status"], e["detail"]) for e in denied} >= {
        (ben_id, 404, "not-found"), ("anonymous", 401, "unauthenticated")}
    assert any(e["actor"] == ids["provider"] and e["resource"].endswith("/schedule")
               and e["purpose"] == "treatment" for e in events)  # a day's list, per patient
    own = client.get("/audit-events", headers=compliance, params={"actor": ben_id}).json()
    assert any(e["record_id"] == f"appointment_id={booked['id']}"
               and e["resource"] == "GET /bookings/{appointment_id}" for e in own["events"])
    refused = client.get("/audit-events", headers=compliance,
                         params={"outcome": "denied", "limit": 200}).json()["events"]
    assert any(e["role"] == "analyst" and e["status"] == 403 for e in refused)
    assert all("ana@example.org" not in str(e) and "cough" not in str(e) for e in events)


def _problem_429(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:clinic:problem:rate-limited"
    assert int(response.headers["retry-after"]) > 0


def test_rate_limits_answer_429_with_retry_after(client: TestClient, container: Container,
                                                 token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"], limit=100)
    patient_id, headers = sign_up(client, container, "busy@example.org")
    # Code verification: 10 tries per address per 10 minutes.
    verifies = [client.post("/auth/verify", json={"email": "busy@example.org",
                                                  "code": "000000"}) for _ in range(11)]
    _problem_429(verifies[-1])
    # Holds: 20 attempts per signed-in caller per minute (whatever the outcome).
    attempts = [client.post("/holds", headers=headers, json={"slot_id": slots[0]["id"]})
                for _ in range(21)]
    _problem_429(attempts[-1])
    # Holds from one address, signed out: 60 per minute.
    anonymous = [client.post("/holds", json={"slot_id": slots[1]["id"]}) for _ in range(61)]
    _problem_429(anonymous[-1])
    # Booking attempts: 30 per caller per minute.
    staff = token_for(Role.front_desk, "desk-2", clinics=[ids["clinic"]])
    bookings = [client.post("/bookings", headers=staff,
                            json={"slot_id": slots[40]["id"], "patient_id": patient_id})
                for _ in range(31)]
    _problem_429(bookings[-1])
    assert not [b for b in bookings[:30] if b.status_code >= 500]
    audit = client.get("/audit-events", headers=token_for(Role.compliance),
                       params={"outcome": "denied", "limit": 500}).json()["events"]
    assert {e["resource"] for e in audit if e["status"] == 429} >= {
        "POST /auth/verify", "POST /holds", "POST /bookings"}


def test_audit_and_retention_take_only_what_their_schema_says(client: TestClient,
                                                              token_for: Any) -> None:
    # Lax parsing took `until=0.5` as an instant of 1970 and `"dry_run": 0` as false, the
    # value that erases. Found by tests/e2e/test_openapi_fuzz.py.
    compliance = token_for(Role.compliance, "officer-2")
    for name in ("since", "until"):
        for value in ("0.5", "1700000000", "2026-12-01T09:00"):
            refused = client.get("/audit-events", headers=compliance, params={name: value})
            assert refused.status_code == 422, (name, value)
        assert client.get("/audit-events", headers=compliance,
                          params={name: "2026-12-01T09:00:00Z"}).status_code == 200
    admin = token_for(Role.admin, "ops-1")
    for dry_run in (0, "false", "no", "off"):
        refused = client.post("/admin/retention/run", headers=admin, json={"dry_run": dry_run})
        assert refused.status_code == 422, dry_run
        assert refused.json()["errors"][0]["location"] == ["body", "dry_run"]
    listed = client.post("/admin/retention/run", headers=admin, json={"dry_run": True})
    assert listed.status_code == 200 and listed.json()["dry_run"] is True
