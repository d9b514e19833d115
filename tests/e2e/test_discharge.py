"""Discharge over HTTP: a completed visit is discharged once by its staff with a reference to
the summary; the patient and their providers read the reference, nobody else; downstream
systems get VisitDischarged with ids only, and the reference is stored sealed."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.delivery import relayed
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up


def test_a_completed_visit_is_discharged_once_with_a_sealed_reference(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[3]
    _, ana = sign_up(client, container, "ana@example.org")
    _, ben = sign_up(client, container, "ben@example.org")
    visit = client.post("/bookings", headers=ana, json={"slot_id": slot["id"]}).json()["id"]
    staff = token_for(Role.front_desk, "fd-1", clinics=[ids["clinic"]])
    ref = f"https://ehr.example.org/docs/Dsch{uuid.uuid4().hex[:10]}"
    early = client.post(f"/bookings/{visit}/discharge", headers=staff, json={"summary_ref": ref})
    assert early.status_code == 422 and early.json()["error"] == "invalid-status-transition"
    for step in ("check-in", "complete"):
        assert client.post(f"/bookings/{visit}/{step}", headers=staff).status_code == 200
    assert client.post(f"/bookings/{visit}/discharge", headers=ana,
                       json={"summary_ref": ref}).status_code == 403
    done = client.post(f"/bookings/{visit}/discharge", headers=staff, json={"summary_ref": ref})
    assert done.status_code == 200, done.text
    assert done.json()["discharged"] is True and done.json()["status"] == "fulfilled"
    again = client.post(f"/bookings/{visit}/discharge", headers=staff, json={"summary_ref": ref})
    assert again.status_code == 422

    read = client.get(f"/bookings/{visit}/discharge", headers=ana)
    assert read.status_code == 200 and read.json()["summary_ref"] == ref
    assert client.get(f"/bookings/{visit}/discharge", headers=ben).status_code == 404
    project()
    assert client.get(f"/bookings/{visit}", headers=ana).json()["version"] == \
        done.json()["version"]

    decoded, sink = relayed(container)
    [record] = [record for name, record in decoded if name == "VisitDischarged"]
    assert str(record["appointment_id"]) == visit and str(record["clinic_id"]) == ids["clinic"]
    assert ref not in repr(decoded) and ref.encode() not in sink.path.read_bytes()
    with container.pool.connection() as conn:
        found = [conn.execute("SELECT count(*) FROM clinic_events WHERE position(%s IN state) > 0",
                              (text,)).fetchone() for text in (ref.encode(), b"Harbor")]
    assert found == [(0,), (1,)]  # sealed like the visit reason; a clinic's name is not PHI
