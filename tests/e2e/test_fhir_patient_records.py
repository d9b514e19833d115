"""FHIR Patient and Consent reads and searches, and `_id` on Slot and Appointment searches,
follow the JSON API's record access (docs/fhir.md): a patient reaches only their own
records — another patient's Consent by id or by `patient=` is 404, another's Patient by
`_id` no match — staff their clinics' patients with a purpose of use, each PHI read in the
access audit; every resource HAPI-valid."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from domain.access import Role
from domain.consent import Consent, Purpose
from infra.wiring.container import Container
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up
from tests.harness.fhir_validator import errors

FHIR = "/fhir/R4"


def _ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = answer.json()
    return body


def _ids(bundle: dict[str, Any]) -> list[str]:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [e["resource"]["id"] for e in bundle["entry"]]


def _not_found(answer: Any) -> None:
    assert answer.status_code == 404, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "not-found", outcome


def _consent_id(patient: str) -> str:
    return str(Consent.create_id(UUID(patient), Purpose.treatment.value))


def test_patient_and_consent_follow_the_json_access_rules(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    ana, ana_headers = sign_up(client, container, "ana.records.fhir@example.org")
    ben, ben_headers = sign_up(client, container, "ben.records.fhir@example.org",
                               given_name="Ben")
    slots = open_slots(client, ids["checkup"])
    for headers, slot in ((ana_headers, slots[0]), (ben_headers, slots[2])):
        assert client.post("/bookings", headers=headers,
                           json={"slot_id": slot["id"]}).status_code == 201
    project()

    own = _ok(client.get(f"{FHIR}/Consent/{_consent_id(ana)}", headers=ana_headers))
    listed = _ok(client.get(f"{FHIR}/Consent", headers=ana_headers,
                            params={"patient": f"Patient/{ana}"}))
    assert [e["resource"] for e in listed["entry"]] == [own]  # the same answer both ways
    assert own["patient"]["reference"] == f"Patient/{ana}" and own["status"] == "active"
    # Another patient's consent, by id or by patient, is as absent as an unknown one.
    _not_found(client.get(f"{FHIR}/Consent/{_consent_id(ben)}", headers=ana_headers))
    _not_found(client.get(f"{FHIR}/Consent/{uuid4()}", headers=ana_headers))
    _not_found(client.get(f"{FHIR}/Consent", headers=ana_headers,
                          params={"patient": f"Patient/{ben}"}))
    # Another patient's id matches nothing: an empty Bundle, not an error that tells.
    assert _ids(_ok(client.get(f"{FHIR}/Patient", headers=ana_headers,
                               params={"_id": ben}))) == []
    both = _ok(client.get(f"{FHIR}/Patient", headers=ana_headers,
                          params={"_id": f"{ben},Patient/{ana}"}))
    assert _ids(both) == [ana] and both["total"] == 1
    assert _ids(_ok(client.get(f"{FHIR}/Patient", headers=ana_headers))) == [ana]

    desk = {**token_for(Role.front_desk, "desk-fhir", clinics=[ids["clinic"]]),
            "X-Purpose-Of-Use": "operations", "X-Request-ID": "req-fhir-consent"}
    theirs = _ok(client.get(f"{FHIR}/Consent/{_consent_id(ben)}", headers=desk))
    assert theirs["patient"]["reference"] == f"Patient/{ben}"
    patients = _ok(client.get(f"{FHIR}/Patient", headers=desk,
                              params={"_id": f"{ana},{ben},{uuid4()}"}))
    assert sorted(_ids(patients)) == sorted([ana, ben])
    assert client.get(f"{FHIR}/Patient", headers=desk).status_code == 400  # by _id only
    assert client.get(f"{FHIR}/Patient", headers=desk, params={
        "_id": ",".join(str(uuid4()) for _ in range(21))}).status_code == 400
    assert client.get(f"{FHIR}/Consent/{_consent_id(ben)}", headers={
        **desk, "X-Purpose-Of-Use": "curiosity"}).status_code == 400  # FHIR: 400, not 422
    elsewhere = token_for(Role.front_desk, "desk-elsewhere", clinics=[str(uuid4())])
    _not_found(client.get(f"{FHIR}/Consent/{_consent_id(ben)}", headers=elsewhere))
    assert _ids(_ok(client.get(f"{FHIR}/Patient", headers=elsewhere,
                               params={"_id": ben}))) == []
    glass = {**elsewhere, "X-Purpose-Of-Use": "emergency"}  # break-glass, as in JSON
    assert _ids(_ok(client.get(f"{FHIR}/Patient", headers=glass,
                               params={"_id": ben}))) == [ben]

    compliance = token_for(Role.compliance, "officer-fhir")
    events = client.get("/audit-events", headers=compliance,
                        params={"patient_id": ben, "limit": 100}).json()["events"]
    reads = {(e["resource"], e["purpose"], e["record_id"]) for e in events
             if e["actor"] == "desk-fhir" and e["outcome"] == "allowed"}
    assert reads == {("GET /fhir/R4/Consent/{consent_id}", "operations", _consent_id(ben)),
                     ("GET /fhir/R4/Patient", "operations", None)}
    assert any(e["actor"] == "desk-elsewhere" and e["detail"] == "break-glass"
               for e in events)
    refused = client.get("/audit-events", headers=compliance, params={
        "actor": ana, "outcome": "denied"}).json()["events"]
    assert any(e["resource"] == "GET /fhir/R4/Consent/{consent_id}" and e["status"] == 404
               for e in refused)  # the probe for Ben's consent, recorded as a refusal

    problems = errors(own, listed, theirs, both, patients)
    assert problems == [], "\n".join(map(str, problems))


def test_slot_and_appointment_searches_by_id(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    ana, ana_headers = sign_up(client, container, "ana.ids.fhir@example.org")
    _, ben_headers = sign_up(client, container, "ben.ids.fhir@example.org")
    slots = open_slots(client, ids["checkup"])
    visits = [client.post("/bookings", headers=who, json={"slot_id": slot["id"]}).json()["id"]
              for who, slot in ((ana_headers, slots[0]), (ben_headers, slots[2]))]
    project()

    free = [slots[5]["id"], slots[7]["id"]]
    found = _ok(client.get(f"{FHIR}/Slot", params={"_id": ",".join(free)}))
    assert sorted(_ids(found)) == sorted(free)
    assert all(e["resource"]["status"] == "free" for e in found["entry"])
    assert _ids(_ok(client.get(f"{FHIR}/Slot", params={"_id": slots[0]["id"]}))) == []
    busy = _ok(client.get(f"{FHIR}/Slot", params={
        "_id": f"Slot/{slots[0]['id']},{free[0]}", "status": "busy"}))
    assert _ids(busy) == [slots[0]["id"]]  # `_id` and the other parameters both hold
    assert _ids(_ok(client.get(f"{FHIR}/Slot", params={
        "_id": ",".join(free), "start": f"ge{slots[6]['start']}"}))) == [free[1]]
    assert client.get(f"{FHIR}/Slot", params={"_id": "not-an-id"}).status_code == 400

    both = ",".join(visits)
    mine = _ok(client.get(f"{FHIR}/Appointment", headers=ana_headers, params={"_id": both}))
    assert _ids(mine) == [visits[0]]  # Ben's visit is not Ana's to find
    desk = token_for(Role.front_desk, "desk-ids", clinics=[ids["clinic"]])
    at_desk = _ok(client.get(f"{FHIR}/Appointment", headers=desk, params={"_id": both}))
    assert sorted(_ids(at_desk)) == sorted(visits)  # by id, no date range needed
    assert _ids(_ok(client.get(f"{FHIR}/Appointment", headers=desk, params={
        "_id": both, "patient": f"Patient/{ana}"}))) == [visits[0]]
    assert _ids(_ok(client.get(f"{FHIR}/Appointment", headers=desk, params={
        "_id": both, "status": "cancelled"}))) == []
    elsewhere = token_for(Role.front_desk, "desk-other", clinics=[str(uuid4())])
    assert _ids(_ok(client.get(f"{FHIR}/Appointment", headers=elsewhere,
                               params={"_id": both}))) == []
    assert all("reasonCode" not in e["resource"] for e in at_desk["entry"])

    problems = errors(found, busy, mine, at_desk)
    assert problems == [], "\n".join(map(str, problems))
