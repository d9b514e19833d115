"""Booking through FHIR only (IHE ITI Scheduling): $find → $hold → $book → read → cancel,
and the result is the JSON API's and the event log's, with the same actor and request; a
taken time is a 409 OperationOutcome naming the slot; a move is one atomic $book; every
resource valid FHIR R4 (HAPI)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from domain.provenance import context_of
from infra.wiring.container import Container
from tests.e2e.clinic_flow import set_up_clinic, sign_up
from tests.harness.fhir_validator import errors

FHIR = "/fhir/R4"
JSON = "application/fhir+json"


def _parameters(name: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": name, **value}]}


def _find(client: TestClient, service: str, **params: Any) -> list[dict[str, Any]]:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    answer = client.get(f"{FHIR}/Appointment/$find", params={
        "service-type": service, "start": f"ge{start.isoformat()}", **params})
    assert answer.status_code == 200, answer.text
    return [entry["resource"] for entry in answer.json()["entry"]]


def test_a_patient_books_end_to_end_through_fhir(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    patient, headers = sign_up(client, container, "fhir.book@example.org")
    found = _find(client, ids["checkup"], practitioner=ids["provider"])
    assert found and all(a["status"] == "proposed" for a in found)
    chosen = found[0]
    held = client.post(f"{FHIR}/Appointment/$hold", headers={"content-type": JSON},
                       content=json.dumps(_parameters("appointment-reference", valueReference={
                           "reference": f"Appointment/{chosen['id']}"})))
    assert held.status_code == 200, held.text
    pending = held.json()
    assert pending["status"] == "pending" and pending["extension"][0]["valueInstant"]
    pending["participant"].append({"actor": {"reference": f"Patient/{patient}"},
                                   "status": "accepted"})
    book = json.dumps(_parameters("appointment-resource", resource=pending))
    booked = client.post(f"{FHIR}/Appointment/$book", content=book, headers={
        **headers, "content-type": JSON, "Idempotency-Key": "fhir-1",
        "X-Request-Id": "req-fhir-book-1"})
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert appointment["status"] == "booked"
    assert booked.headers["location"] == f"{FHIR}/Appointment/{appointment['id']}"
    again = client.post(f"{FHIR}/Appointment/$book", content=book, headers={
        **headers, "content-type": JSON, "Idempotency-Key": "fhir-1"})
    assert again.json()["id"] == appointment["id"]
    assert again.headers["idempotent-replayed"] == "true"

    project()
    as_json = client.get(f"/bookings/{appointment['id']}", headers=headers).json()
    assert as_json["status"] == "booked" and as_json["slot_id"] == chosen["slot"][0][
        "reference"].removeprefix("Slot/")
    read = client.get(f"{FHIR}/Appointment/{appointment['id']}", headers=headers)
    assert read.status_code == 200 and read.json()["start"] == chosen["start"]
    events = list(container.app.events.get(__import__("uuid").UUID(appointment["id"])))
    meta = context_of(events[0])
    assert (meta["actor"], meta["role"], meta["request_id"], meta["channel"]) == (
        patient, "patient", "req-fhir-book-1", "fhir")
    listed = client.get(f"{FHIR}/Appointment", params={"patient": f"Patient/{patient}"},
                        headers=headers).json()
    assert [e["resource"]["id"] for e in listed["entry"]] == [appointment["id"]]
    doctor = token_for(Role.provider, ids["provider"])
    day = client.get(f"{FHIR}/Appointment", headers=doctor, params={
        "practitioner": f"Practitioner/{ids['provider']}", "date": as_json["clinic_local_start"][
            :10], "status": "booked"}).json()
    assert [e["resource"]["id"] for e in day["entry"]] == [appointment["id"]]
    refused = client.get(f"{FHIR}/Appointment", headers=headers, params={"status": "booked"})
    assert refused.status_code == 400
    person = client.get(f"{FHIR}/Patient/{patient}", headers=headers).json()
    consents = client.get(f"{FHIR}/Consent", params={"patient": f"Patient/{patient}"},
                          headers=headers).json()
    consent = consents["entry"][0]["resource"]
    assert consent["status"] == "active" and consent["provision"]["type"] == "permit"
    receipt = json.loads(__import__("base64").b64decode(consent["sourceAttachment"]["data"]))
    check = client.post("/consent-receipts/verify", json=receipt).json()
    assert check["valid"] is True and check["consent_status"] == "active"
    policy = client.get(consent["policy"][0]["uri"].removeprefix("http://testserver"))
    assert policy.status_code == 200 and policy.json()["purpose"] == "treatment"

    other_id, other = sign_up(client, container, "fhir.late@example.org")
    late = {**pending, "identifier": [], "participant": [
        {"actor": {"reference": f"Patient/{other_id}"}, "status": "accepted"}]}
    taken = client.post(f"{FHIR}/Appointment/$book", headers={**other, "content-type": JSON},
                        content=json.dumps(_parameters("appointment-resource", resource=late)))
    assert taken.status_code == 409, taken.text
    outcome = taken.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert chosen["slot"][0]["reference"] in outcome["issue"][0]["diagnostics"]

    later = found[3]
    moved = client.post(f"{FHIR}/Appointment/$book", headers={**headers, "content-type": JSON},
                        content=json.dumps(_parameters("appointment-resource", resource={
                            **appointment, "slot": later["slot"]})))
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == appointment["id"] and moved.json()["start"] == later["start"]
    cancelled = client.post(f"{FHIR}/Appointment/$book",
                            headers={**headers, "content-type": JSON},
                            content=json.dumps(_parameters("appointment-resource", resource={
                                **moved.json(), "status": "cancelled"})))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    project()
    assert client.get(f"/bookings/{appointment['id']}", headers=headers).json()[
        "status"] == "cancelled"

    problems = errors(pending, appointment, read.json(), listed, person, consents, outcome,
                      moved.json(), cancelled.json())
    assert problems == [], "\n".join(map(str, problems))


def test_fhir_reads_follow_the_json_apis_access_rules(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    ana, ana_headers = sign_up(client, container, "ana.fhir@example.org")
    _, ben_headers = sign_up(client, container, "ben.fhir@example.org")
    slot = _find(client, ids["checkup"])[0]["slot"][0]["reference"].removeprefix("Slot/")
    booked = client.post("/bookings", headers=ana_headers, json={"slot_id": slot}).json()
    project()
    for path in (f"/Appointment/{booked['id']}", f"/Patient/{ana}"):
        hidden = client.get(FHIR + path, headers=ben_headers)
        assert hidden.status_code == 404, hidden.text  # another patient's: as if absent
        assert hidden.json()["resourceType"] == "OperationOutcome"
        assert client.get(FHIR + path).status_code == 401
    listed = client.get(f"{FHIR}/Appointment", params={"patient": ana}, headers=ben_headers)
    assert listed.status_code == 404
