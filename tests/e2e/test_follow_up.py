"""Follow-ups over HTTP: the visit's provider books "a follow-up in N days" for the patient
(the first free time of the same provider, service and clinic in the window); with no time
free there, the patient waits for one on the waitlist; the patient cannot, another provider
does not reach the visit, and a retry with the same key answers the same booking."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up


def test_a_provider_books_the_follow_up_or_puts_the_patient_on_the_waitlist(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[2]
    patient_id, patient = sign_up(client, container, "ana@example.org")
    visit = client.post("/bookings", headers=patient, json={"slot_id": slot["id"]}).json()
    provider = token_for(Role.provider, ids["provider"])
    stranger = token_for(Role.provider, "00000000-0000-4000-8000-000000000009")
    path = f"/bookings/{visit['id']}/follow-up"

    assert client.post(path, headers=patient, json={"after_days": 2}).status_code == 403
    assert client.post(path, headers=stranger, json={"after_days": 2}).status_code == 404
    keyed = {**provider, "Idempotency-Key": "follow-up-1"}
    booked = client.post(path, headers=keyed, json={"after_days": 2, "within_days": 2})
    assert booked.status_code == 201, booked.text
    follow_up = booked.json()["booking"]
    assert booked.json()["waitlist_entry"] is None
    assert (follow_up["patient_id"], follow_up["provider_id"], follow_up["service_id"]) == (
        patient_id, ids["provider"], ids["checkup"])
    after = datetime.fromisoformat(follow_up["start"]) - datetime.fromisoformat(visit["start"])
    assert timedelta(days=2) <= after < timedelta(days=4)
    again = client.post(path, headers=keyed, json={"after_days": 2, "within_days": 2})
    assert again.status_code == 201 and again.json()["booking"]["id"] == follow_up["id"]

    later = client.post(path, headers=provider, json={"after_days": 30, "within_days": 7})
    assert later.status_code == 201, later.text  # beyond the published horizon: no time yet
    waits = later.json()["waitlist_entry"]
    assert later.json()["booking"] is None and waits["status"] == "waiting"
    assert (waits["patient_id"], waits["provider_id"], waits["clinic_ids"]) == (
        patient_id, ids["provider"], [ids["clinic"]])
    project()
    mine = client.get("/waitlist/entries", headers=patient).json()
    assert [entry["id"] for entry in mine] == [waits["id"]]
