"""An appointment's version is `meta.versionId`, the `ETag` of both doors, and `If-Match`
guards a cancel or move (412, nothing changed); Appointment searches by location, date
range and last change follow the JSON API's access rules and page with `next` links."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.clinic_flow import set_up_clinic, sign_up
from tests.harness.fhir_validator import errors

FHIR = "/fhir/R4"
JSON = "application/fhir+json"


def _free_slots(client: TestClient, service: str) -> list[str]:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    found = client.get(f"{FHIR}/Appointment/$find", params={
        "service-type": service, "start": f"ge{start.isoformat()}", "_count": 20}).json()
    return [e["resource"]["slot"][0]["reference"].removeprefix("Slot/")
            for e in found["entry"]]


def _book_fhir(client: TestClient, headers: dict[str, str], resource: dict[str, Any],
               **extra: str) -> Any:
    return client.post(f"{FHIR}/Appointment/$book", headers={
        **headers, "content-type": JSON, **extra}, content=json.dumps({
            "resourceType": "Parameters",
            "parameter": [{"name": "appointment-resource", "resource": resource}]}))


def test_versions_etags_and_if_match_on_both_doors(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    _, headers = sign_up(client, container, "versions.fhir@example.org")
    slots = _free_slots(client, ids["checkup"])
    booked = client.post("/bookings", headers=headers, json={"slot_id": slots[0]}).json()
    assert booked["version"] == 1
    visit = booked["id"]
    project()
    as_json = client.get(f"/bookings/{visit}", headers=headers)
    assert as_json.headers["etag"] == 'W/"1"' and as_json.json()["version"] == 1
    read = client.get(f"{FHIR}/Appointment/{visit}", headers=headers)
    assert read.headers["etag"] == 'W/"1"' and read.json()["meta"]["versionId"] == "1"
    appointment = read.json()

    stale = _book_fhir(client, headers, {**appointment, "status": "cancelled"},
                       **{"If-Match": 'W/"7"'})
    assert stale.status_code == 412, stale.text
    outcome = stale.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "version-mismatch"
    refused = client.post(f"/bookings/{visit}/reschedule", headers={
        **headers, "If-Match": 'W/"5"'}, json={"slot_id": slots[3]})
    assert refused.status_code == 412
    problem = refused.json()
    assert problem["type"].endswith("precondition-failed")
    assert (problem["error"], problem["current_version"]) == ("version-mismatch", "1")
    garbled = client.post(f"/bookings/{visit}/cancel", headers={
        **headers, "If-Match": "yesterday's"}, json={})
    assert garbled.status_code == 412
    project()
    assert client.get(f"/bookings/{visit}", headers=headers).json()["status"] == "booked"
    assert len(list(container.app.events.get(__import__("uuid").UUID(visit)))) == 1

    moved = client.post(f"/bookings/{visit}/reschedule", headers={
        **headers, "If-Match": 'W/"1"'}, json={"slot_id": slots[3]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["version"] == 2 and moved.headers["etag"] == 'W/"2"'
    again = _book_fhir(client, headers, {**appointment, "status": "cancelled"},
                       **{"If-Match": 'W/"1"'})  # the copy read before the move
    assert again.status_code == 412
    cancelled = _book_fhir(client, headers, {**appointment, "status": "cancelled"},
                           **{"If-Match": 'W/"2"'})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["meta"]["versionId"] == "3"
    assert cancelled.headers["etag"] == 'W/"3"'
    project()
    after = client.get(f"{FHIR}/Appointment/{visit}", headers=headers).json()
    assert (after["status"], after["meta"]["versionId"]) == ("cancelled", "3")
    problems = errors(appointment, outcome, cancelled.json(), after)
    assert problems == [], "\n".join(map(str, problems))


def test_appointment_searches_by_location_date_and_last_change(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    ana, ana_headers = sign_up(client, container, "ana.search.fhir@example.org")
    _, ben_headers = sign_up(client, container, "ben.search.fhir@example.org")
    slots = _free_slots(client, ids["checkup"])
    made = [client.post("/bookings", headers=who, json={"slot_id": slot}).json()["id"]
            for who, slot in ((ana_headers, slots[0]), (ben_headers, slots[2]),
                              (ana_headers, slots[4]))]
    project()
    desk = token_for(Role.front_desk, "desk-1", clinics=[ids["clinic"]])
    today = datetime.now(UTC).date()
    window = {"location": f"Location/{ids['clinic']}", "date": [
        f"ge{today.isoformat()}", f"lt{(today + timedelta(days=30)).isoformat()}"]}

    pages, params = [], {**window, "_count": 2}
    while True:
        page = client.get(f"{FHIR}/Appointment", headers=desk, params=params)
        assert page.status_code == 200, page.text
        pages.append(page.json())
        more = [link["url"] for link in page.json()["link"] if link["relation"] == "next"]
        if not more:
            break
        params = {"_page_token": more[0].split("_page_token=")[1], **window, "_count": 2}
    seen = [e["resource"]["id"] for p in pages for e in p["entry"]]
    assert sorted(seen) == sorted(made) and len(pages) == 2  # each once, in two pages
    assert all("reasonCode" not in e["resource"] for p in pages for e in p["entry"])

    own = client.get(f"{FHIR}/Appointment", headers=ana_headers, params=window).json()
    assert sorted(e["resource"]["id"] for e in own["entry"]) == sorted([made[0], made[2]])
    assert {e["resource"]["participant"][0]["actor"]["reference"] for e in own["entry"]} == {
        f"Patient/{ana}"}
    later = client.get(f"{FHIR}/Appointment", headers=desk, params={
        **window, "_lastUpdated": f"gt{(datetime.now(UTC) + timedelta(minutes=5)).isoformat()}"})
    assert later.json()["entry"] == []
    recent = client.get(f"{FHIR}/Appointment", headers=desk, params={
        **window, "_lastUpdated": f"ge{today.isoformat()}", "status": "booked"})
    assert len(recent.json()["entry"]) == 3

    elsewhere = token_for(Role.front_desk, "desk-2", clinics=[str(uuid4())])
    assert client.get(f"{FHIR}/Appointment", headers=elsewhere,
                      params=window).status_code == 403
    unbounded = client.get(f"{FHIR}/Appointment", headers=desk,
                           params={"location": f"Location/{ids['clinic']}"})
    assert unbounded.status_code == 400
    assert client.get(f"{FHIR}/Appointment", headers=desk, params={
        **window, "location": "Location/not-a-clinic"}).status_code == 400
    glass = {**elsewhere, "X-Purpose-Of-Use": "emergency"}  # break-glass: one patient only
    assert client.get(f"{FHIR}/Appointment", headers=glass, params=window).status_code == 403
    assert sorted(e["resource"]["id"] for e in client.get(
        f"{FHIR}/Appointment", headers=glass, params={"patient": f"Patient/{ana}"}
    ).json()["entry"]) == sorted([made[0], made[2]])
    for far in ("ge0001-01-01", "le9999-12-31", "ge2026-02-30"):
        answer = client.get(f"{FHIR}/Appointment", headers=desk, params={
            **window, "_lastUpdated": far})
        assert answer.status_code == 400, (far, answer.text)
    problems = errors(pages[0], own)
    assert problems == [], "\n".join(map(str, problems))
