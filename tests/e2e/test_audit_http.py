"""The compliance officer's timeline and past records over HTTP and the CLI: one subject at a
time, keyset pages, PHI only with `include_phi` and a stated purpose (which is recorded),
and clear problems for what cannot be answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up


def _booked(client: TestClient, container: Container, token_for: Any,
            project: Any) -> dict[str, str]:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    patient, headers = sign_up(client, container, "cleo@example.org", given_name="Cleopatra")
    booked = client.post("/bookings", headers=headers,
                         json={"slot_id": slot["id"], "reason": "Rsnaudit wrist"})
    assert booked.status_code == 201, booked.text
    project()
    return {**ids, "patient": patient, "appointment": booked.json()["id"]}


def test_timeline_pages_and_phi_only_for_a_stated_purpose(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = _booked(client, container, token_for, project)
    officer = token_for(Role.compliance)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"patient_id": ids["patient"], "limit": 2}
    while True:
        page = client.get("/audit/timeline", params=params, headers=officer)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        if page.json()["next_cursor"] is None:
            break
        params["cursor"] = page.json()["next_cursor"]
    whole = client.get("/audit/timeline", params={"patient_id": ids["patient"]},
                       headers=officer).json()["items"]
    assert seen == whole and len(whole) > 4
    events = [i["event"] for i in whole if i["kind"] == "change"]
    assert events[0] == "Patient.Registered" and "Appointment.Booked" in events
    assert "Cleopatra" not in json.dumps(whole) and "Rsnaudit" not in json.dumps(whole)

    refused = client.get("/audit/timeline", headers=officer,
                         params={"patient_id": ids["patient"], "include_phi": "true"})
    assert refused.status_code == 422 and refused.json()["error"] == "purpose-required"
    shown = client.get("/audit/timeline", headers={**officer, "X-Purpose-Of-Use": "legal"},
                       params={"appointment_id": ids["appointment"], "include_phi": "true"})
    assert shown.status_code == 200
    booked = next(i for i in shown.json()["items"] if i["event"] == "Appointment.Booked")
    assert booked["phi"] == {"reason": "Rsnaudit wrist"}
    looks = client.get("/audit-events", params={"patient_id": ids["patient"]},
                       headers=officer).json()["events"]
    assert looks[0]["resource"] == "GET /audit/timeline" and looks[0]["purpose"] == "legal"
    assert looks[0]["detail"] == "phi-shown"

    record = client.get(f"/audit/records/{ids['appointment']}", headers=officer).json()
    assert record["kind"] == "Appointment" and record["state"]["status"] == "booked"
    assert record["state"]["reason"].startswith("[withheld")
    past = client.get(f"/audit/records/{ids['appointment']}", headers=officer,
                      params={"as_of": "2001-01-01T00:00:00Z"})
    assert past.status_code == 404


def test_timeline_problems(client: TestClient, token_for: Any) -> None:
    officer = token_for(Role.compliance)
    for params, error in (({}, "one-subject"),
                          ({"patient_id": "0" * 32, "actor": "x"}, "one-subject"),
                          ({"actor": "x", "cursor": "bm90LW91cnM"}, "invalid-cursor")):
        answer = client.get("/audit/timeline", params=params, headers=officer)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["error"] == error
    assert client.get("/audit/timeline", params={"actor": "x"},
                      headers=token_for(Role.admin)).status_code == 403


def test_clinic_audit_timeline_prints_every_change_and_read(
        client: TestClient, container: Container, token_for: Any, project: Any,
        tmp_path: Path) -> None:
    ids = _booked(client, container, token_for, project)
    settings = container.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
        "CLINIC_DATA_DIR": str(tmp_path), "CLINIC_DATABASE_URL": str(settings.database_url),
        "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema}

    def timeline(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "infra.cli.main", "audit", "timeline",
                               "--appointment", ids["appointment"], *extra], env=env,
                              capture_output=True, text=True, timeout=120)

    plain = timeline()
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "Appointment.Booked v1" in plain.stdout and "Rsnaudit" not in plain.stdout
    shown = timeline("--json", "--purpose", "legal")
    assert shown.returncode == 0, shown.stderr[-2000:]
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert any(i["phi"] == {"reason": "Rsnaudit wrist"} for i in lines)
    again = timeline("--json")
    reads = [json.loads(line) for line in again.stdout.splitlines()]
    look = [i for i in reads if i["kind"] == "access"][-1]
    assert look["actor"].startswith("cli:") and look["purpose"] == "legal"
    assert look["description"] == "read CLI clinic audit timeline (phi-shown)"
    wrong = timeline("--purpose", "curiosity")
    assert wrong.returncode == 2 and "invalid PurposeOfUse" in wrong.stderr


def test_a_record_as_of_a_past_moment_over_http_is_what_it_was_then(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    """GET /audit/records/{id}?as_of=: the state captured at each step of booking,
    rescheduling and cancelling, and `changes_since` exactly the later steps, with who did
    them and in which request."""
    ids = _booked(client, container, token_for, project)
    visit, officer = ids["appointment"], token_for(Role.compliance)
    token = container.sessions.sign_in(ids["patient"]).access_token
    patient = {"Authorization": f"Bearer {token}"}

    def now_state() -> dict[str, Any]:
        answer = client.get(f"/audit/records/{visit}", headers=officer)
        assert answer.status_code == 200, answer.text
        record: dict[str, Any] = answer.json()
        assert record["changes_since"] == []
        return record

    booked, booked_at = now_state(), datetime.now(UTC)
    later = [s for s in open_slots(client, ids["checkup"])
             if s["start"] > booked["state"]["start"]][2]
    moved_answer = client.post(f"/bookings/{visit}/reschedule", json={"slot_id": later["id"]},
                               headers={**patient, "X-Request-Id": "req-move-1"})
    assert moved_answer.status_code == 200, moved_answer.text
    moved, moved_at = now_state(), datetime.now(UTC)
    desk = token_for(Role.front_desk, "desk-7", clinics=[ids["clinic"]])
    cancelled_answer = client.post(f"/bookings/{visit}/cancel", json={}, headers={
        **desk, "X-Request-Id": "req-cancel-1", "X-Purpose-Of-Use": "operations"})
    assert cancelled_answer.status_code == 200, cancelled_answer.text
    cancelled = now_state()
    assert (booked["version"], moved["version"], cancelled["version"]) == (1, 2, 3)
    assert moved["state"]["start"] != booked["state"]["start"]
    assert cancelled["state"]["status"] == "cancelled"

    for captured, at, events in ((booked, booked_at, ["Appointment.Rescheduled",
                                                      "Appointment.Cancelled"]),
                                 (moved, moved_at, ["Appointment.Cancelled"])):
        answer = client.get(f"/audit/records/{visit}", headers=officer,
                            params={"as_of": at.isoformat()})
        assert answer.status_code == 200, answer.text
        past = answer.json()
        assert (past["kind"], past["version"], past["state"]) == (
            "Appointment", captured["version"], captured["state"])
        assert [c["event"] for c in past["changes_since"]] == events
    since = client.get(f"/audit/records/{visit}", headers=officer,
                       params={"as_of": booked_at.isoformat()}).json()["changes_since"]
    assert [(c["version"], c["actor"], c["role"], c["request_id"]) for c in since] == [
        (2, ids["patient"], "patient", "req-move-1"),
        (3, "desk-7", "front_desk", "req-cancel-1")]
    assert since[1]["purpose"] == "operations"
    assert booked["state"]["reason"].startswith("[withheld")  # PHI: only for a purpose
    shown = client.get(f"/audit/records/{visit}", headers={
        **officer, "X-Purpose-Of-Use": "legal"}, params={"as_of": booked_at.isoformat(),
                                                          "include_phi": "true"})
    assert shown.status_code == 200, shown.text
    assert shown.json()["state"] == {**booked["state"], "reason": "Rsnaudit wrist"}
    looks = client.get("/audit-events", params={"patient_id": ids["patient"]},
                       headers=officer).json()["events"]
    assert (looks[0]["resource"], looks[0]["purpose"], looks[0]["detail"]) == (
        "GET /audit/records/{aggregate_id}", "legal", "phi-shown")
