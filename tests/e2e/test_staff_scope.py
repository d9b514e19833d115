"""Staff belong to clinics (issue "Hardening", item 9): the front desk reaches the patients
and visits of their own clinics (the `clinics` claim of their token); another clinic's need
the `emergency` purpose of use and are flagged in the access audit. Providers cancel and hand
off their own visits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.delivery import relayed
from tests.e2e.clinic_flow import EVERY_DAY, set_up_clinic, sign_up

EMERGENCY = {"X-Purpose-Of-Use": "emergency"}


class TwoClinics:
    def __init__(self, client: TestClient, container: Container, token_for: Any,
                 project: Callable[[], int]) -> None:
        self.client = client
        self.a, self.b = set_up_clinic(client, token_for), set_up_clinic(client, token_for)
        admin = token_for(Role.admin)
        colleague = client.post("/providers", headers=admin, json={
            "display_name": "Dr. Two", "clinic_ids": [self.a["clinic"]],
            "service_ids": [self.a["checkup"]]}).json()["id"]
        assert client.put(f"/providers/{colleague}/availability/{self.a['clinic']}",
                          headers=admin, json={
                              "weekly": {d: [["00:00", "24:00"]] for d in EVERY_DAY},
                              "granularity_minutes": 30, "horizon_days": 5,
                              "min_notice_minutes": 60}).status_code == 200
        self.colleague = colleague
        project()
        self.ann, ann = sign_up(client, container, "ann@example.org")
        self.bo, bo = sign_up(client, container, "bo@example.org")
        self.visit_a = self._book(ann, self._slot(self.a, 3))
        self.visit_b = self._book(bo, self._slot(self.b, 3))
        project()
        self.desk = token_for(Role.front_desk, "desk-a", clinics=[self.a["clinic"]])
        self.doctor_a = token_for(Role.provider, self.a["provider"])

    def _slot(self, ids: dict[str, str], n: int) -> dict[str, Any]:
        """The n-th open time of the clinic's first provider (Dr. One)."""
        page = self.client.get("/slots", params={"provider_id": ids["provider"],
                                                 "service_id": ids["checkup"], "limit": 50})
        return dict(page.json()["slots"][n])

    def _book(self, patient: dict[str, str], slot: dict[str, Any]) -> str:
        booked = self.client.post("/bookings", headers=patient, json={"slot_id": slot["id"]})
        assert booked.status_code == 201, booked.text
        return str(booked.json()["id"])


def test_the_front_desk_reaches_its_own_clinics_patients_and_visits_only(
        client: TestClient, container: Container, token_for: Any,
        project: Callable[[], int]) -> None:
    w = TwoClinics(client, container, token_for, project)
    assert client.get(f"/patients/{w.ann}", headers=w.desk).status_code == 200
    assert client.get(f"/bookings/{w.visit_a}", headers=w.desk).status_code == 200
    assert client.get(f"/patients/{w.bo}", headers=w.desk).status_code == 404
    assert client.get(f"/bookings/{w.visit_b}", headers=w.desk).status_code == 404
    assert client.post(f"/bookings/{w.visit_b}/cancel", headers=w.desk,
                       json={}).status_code == 404
    assert client.get(f"/patients/{w.bo}/appointments", headers=w.desk).json() == []
    other_slot = w._slot(w.b, 5)
    refused = client.post("/bookings", headers=w.desk, json={
        "slot_id": other_slot["id"], "patient_id": w.ann})
    assert refused.status_code == 403, refused.text
    unscoped = token_for(Role.front_desk, "desk-nowhere")  # no clinics claim: no clinic
    assert client.get(f"/patients/{w.ann}", headers=unscoped).status_code == 404


def test_another_clinics_records_need_an_emergency_and_are_flagged_in_the_audit(
        client: TestClient, container: Container, token_for: Any,
        project: Callable[[], int]) -> None:
    w = TwoClinics(client, container, token_for, project)
    read = client.get(f"/bookings/{w.visit_b}", headers={**w.desk, **EMERGENCY})
    assert read.status_code == 200
    assert client.get(f"/patients/{w.bo}", headers={**w.desk, **EMERGENCY}).status_code == 200
    audit = client.get("/audit-events", headers=token_for(Role.compliance),
                       params={"actor": "desk-a"}).json()["events"]
    flagged = [e for e in audit if e["detail"] == "break-glass"]
    assert {e["purpose"] for e in flagged} == {"emergency"} and len(flagged) == 2
    assert all(e["detail"] == "" for e in audit if e["purpose"] != "emergency"
               and e["outcome"] == "allowed")


def test_providers_cancel_and_hand_off_their_own_visits(
        client: TestClient, container: Container, token_for: Any,
        project: Callable[[], int]) -> None:
    w = TwoClinics(client, container, token_for, project)
    assert client.post(f"/bookings/{w.visit_b}/hand-off", headers=w.doctor_a,
                       json={"provider_id": w.colleague}).status_code == 404
    to_b = client.post(f"/bookings/{w.visit_a}/hand-off", headers=w.doctor_a,
                       json={"provider_id": w.b["provider"]})
    assert to_b.status_code == 422, to_b.text  # Dr. One of clinic B does not work at A
    handed = client.post(f"/bookings/{w.visit_a}/hand-off", headers=w.doctor_a,
                         json={"provider_id": w.colleague})
    assert handed.status_code == 200, handed.text
    assert handed.json()["provider_id"] == w.colleague
    project()
    # The time is the colleague's now: their slot is taken, the first provider's is free.
    start = datetime.fromisoformat(
        client.get(f"/bookings/{w.visit_a}", headers=w.desk).json()["start"])
    mine = client.get("/slots", params={"provider_id": w.a["provider"],
                                        "service_id": w.a["checkup"], "limit": 50}).json()
    theirs = client.get("/slots", params={"provider_id": w.colleague,
                                          "service_id": w.a["checkup"], "limit": 50}).json()
    assert start in {datetime.fromisoformat(s["start"]) for s in mine["slots"]}
    assert start not in {datetime.fromisoformat(s["start"]) for s in theirs["slots"]}
    # The first provider no longer reaches it; the colleague cancels it.
    assert client.post(f"/bookings/{w.visit_a}/cancel", headers=w.doctor_a,
                       json={}).status_code == 404
    colleague = token_for(Role.provider, w.colleague)
    cancelled = client.post(f"/bookings/{w.visit_a}/cancel", headers=colleague, json={})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_a_hand_off_never_puts_two_visits_in_one_providers_time(
        client: TestClient, container: Container, token_for: Any,
        project: Callable[[], int]) -> None:
    w = TwoClinics(client, container, token_for, project)
    visit = client.get(f"/bookings/{w.visit_a}", headers=w.desk).json()
    at = datetime.fromisoformat(visit["start"])
    busy = next(s for s in client.get("/slots", params={
        "provider_id": w.colleague, "service_id": w.a["checkup"], "limit": 200}).json()["slots"]
        if datetime.fromisoformat(s["start"]) == at)
    _, cy = sign_up(client, container, "cy@example.org")
    taken = client.post("/bookings", headers=cy, json={"slot_id": busy["id"]})
    assert taken.status_code == 201, taken.text
    refused = client.post(f"/bookings/{w.visit_a}/hand-off", headers=w.desk,
                          json={"provider_id": w.colleague})
    assert refused.status_code == 409, refused.text
    assert client.get(f"/bookings/{w.visit_a}", headers=w.desk).json()["provider_id"] == \
        w.a["provider"]
    # Checked in, then the colleague's time freed: the visit moves, the patient waiting in
    # the room keeps their time.
    assert client.post(f"/bookings/{w.visit_a}/check-in", headers=w.desk).status_code == 200
    assert client.post(f"/bookings/{taken.json()['id']}/cancel", headers=cy,
                       json={}).status_code == 200
    free_text = client.post(f"/bookings/{w.visit_a}/hand-off", headers=w.desk,
                            json={"provider_id": w.colleague, "reason": "she has a fever"})
    assert free_text.status_code == 422  # a code, never free text (no PHI in the log)
    handed = client.post(f"/bookings/{w.visit_a}/hand-off", headers=w.desk,
                         json={"provider_id": w.colleague, "reason": "provider-unavailable"})
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "checked-in"
    assert datetime.fromisoformat(handed.json()["start"]) == at
    project()
    day = at.astimezone(ZoneInfo("America/New_York")).date().isoformat()  # the clinic's day
    for provider in (w.a["provider"], w.colleague):
        kept = [v for v in client.get(f"/providers/{provider}/schedule", headers=w.desk,
                                      params={"day": day}).json()
                if v["status"] in ("booked", "checked_in")]
        spans = sorted((v["start"], v["end"]) for v in kept)
        assert all(end <= start for (_, end), (start, _) in pairwise(spans)), spans
    assert any(v["id"] == w.visit_a for v in client.get(
        f"/providers/{w.colleague}/schedule", headers=w.desk, params={"day": day}).json())
    timeline = client.get("/audit/timeline", headers=token_for(Role.compliance),
                          params={"appointment_id": w.visit_a}).json()["items"]
    assert any("(provider-unavailable)" in item["description"] for item in timeline), timeline
    handed_offs = [record for name, record in relayed(container)[0]
                   if name == "AppointmentHandedOff"]
    assert [(str(r["appointment_id"]), str(r["from_provider_id"]), str(r["to_provider_id"]),
             r["reason"]) for r in handed_offs] == [
        (w.visit_a, w.a["provider"], w.colleague, "provider-unavailable")]
