"""Every route of the OpenAPI document, called by every role (and by no one), against real
records: the answer matches docs/access.md. Roles outside a route's row get 403 (401 without a
token); roles in it get past authorization; and a patient using another patient's ids gets
404, exactly as if the record did not exist (object-level authorization)."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from domain.access import Role
from domain.consent import POLICIES, Consent, Purpose
from infra.fhir.resources import role_id
from infra.wiring.container import Container
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up
from tests.e2e.routes import FRAMEWORK_ROUTES, documented_access

ANONYMOUS = "anonymous"


def test_every_route_answers_every_role_as_documented(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    world = _world(client, container, token_for, project)
    documented = {k: v for k, v in documented_access().items() if k not in FRAMEWORK_ROUTES}
    operations = [(m.upper(), p) for p, ops in client.get("/openapi.json").json()["paths"].items()
                  for m in ops]
    assert sorted(operations) == sorted(documented), "docs/access.md and the API differ"
    checked = 0
    for method, path in operations:
        allowed = documented[(method, path)]
        for caller in [ANONYMOUS, *Role]:
            status = _call(client, container, world, method, path, caller)
            expected = _expectation(method, path, allowed, caller)
            assert expected(status), (f"{method} {path} as {caller}: {status} "
                                      f"(access: {allowed})")
            checked += 1
    assert checked >= 7 * 45


def _expectation(method: str, path: str, allowed: str, caller: Role | str) -> Any:
    if allowed == "public":
        return lambda status: status not in (401, 403)
    if caller == ANONYMOUS:
        return lambda status: status == 401
    if caller.value not in [r.strip() for r in allowed.split(",")]:
        return lambda status: status == 403
    if caller is Role.patient and re.search(r"\{(patient_id|appointment_id|entry_id|consent_id)\}",
                                            path):
        return lambda status: status == 404  # another patient's record: as if absent
    if caller is Role.patient and (method, path) == ("POST", "/bookings"):
        return lambda status: status == 404  # booking for another patient
    return lambda status: status not in (401, 403)


def _call(client: TestClient, container: Container, world: dict[str, str], method: str,
          path: str, caller: Role | str) -> int:
    """The request a caller would make. Patients act as Ana on Ben's records, with valid
    bodies so that only the object-level check can stop them; staff send empty bodies
    (authorization is decided before the body is read)."""
    ids = dict(world)
    if caller is Role.patient:
        ids |= {"patient_id": world["other_patient"], "appointment_id": world["other_booking"]}
    url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
    headers: dict[str, str] = {}
    if caller != ANONYMOUS:
        assert isinstance(caller, Role)
        subject = {Role.patient: world["patient_id"],
                   Role.provider: world["provider_id"]}.get(caller, f"{caller.value}-1")
        headers = _token(container, caller, subject)
    body = _patient_bodies(world).get((method, path), {}) if caller is Role.patient else {}
    params = {"day": world["day"]} if path.endswith("/schedule") else None
    if method in ("GET", "DELETE"):
        response = client.request(method, url, headers=headers, params=params)
    else:
        response = client.request(method, url, headers=headers, params=params, json=body)
    assert response.status_code < 500, (method, path, caller, response.text)
    if response.status_code in (401, 403, 404):
        expected = "application/fhir+json" if path.startswith("/fhir/") else \
            "application/problem+json"  # FHIR's own OperationOutcome
        assert response.headers["content-type"] == expected
    return response.status_code


def _patient_bodies(world: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        ("POST", "/bookings"): {"slot_id": world["slot_id"],
                                "patient_id": world["other_patient"]},
        ("POST", "/bookings/{appointment_id}/reschedule"): {"slot_id": world["slot_id"]},
        ("POST", "/patients/{patient_id}/consents"): {
            "purpose": "treatment", "policy_version": POLICIES[Purpose.treatment].version},
        ("PUT", "/patients/{patient_id}/contact"): {"email": "taken-over@example.org"},
        ("POST", "/waitlist/entries/{entry_id}/accept"): {"offer_id": world["entry_id"]},
    }


def _token(container: Container, role: Role, subject: str) -> dict[str, str]:
    if role is Role.patient:
        return {"Authorization": f"Bearer {container.sessions.sign_in(subject).access_token}"}
    return {"Authorization": f"Bearer {container.tokens.issue(role, subject, 600)}"}


def _world(client: TestClient, container: Container, token_for: Any,
           project: Any) -> dict[str, str]:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"])
    ana, ana_headers = sign_up(client, container, "ana@example.org")
    ben, ben_headers = sign_up(client, container, "ben@example.org")
    ana_booking = client.post("/bookings", headers=ana_headers,
                              json={"slot_id": slots[0]["id"]}).json()
    ben_booking = client.post("/bookings", headers=ben_headers,
                              json={"slot_id": slots[1]["id"], "reason": "private"}).json()
    project()
    hold = client.post("/holds", json={"slot_id": slots[2]["id"]}).json()
    ben_waits = client.post("/waitlist/entries", headers=ben_headers, json={
        "service_id": ids["checkup"], "not_after": slots[-1]["end"]}).json()
    project()
    return {
        "patient_id": ana, "other_patient": ben, "appointment_id": ana_booking["id"],
        "other_booking": ben_booking["id"], "provider_id": ids["provider"],
        "clinic_id": ids["clinic"], "service_id": ids["checkup"], "slot_id": slots[3]["id"],
        "hold_id": hold["hold_id"], "purpose": "treatment", "day": slots[0]["start"][:10],
        "aggregate_id": ben_booking["id"], "sha256": POLICIES[Purpose.treatment].digest,
        "location_id": ids["clinic"], "role_id": str(role_id(UUID(ids["provider"]),
                                                            UUID(ids["clinic"]))),
        "schedule_id": slots[0]["schedule_id"], "kind": "Location",
        "run_id": "00000000-0000-4000-8000-000000000047", "entry_id": ben_waits["id"],
        "consent_id": str(Consent.create_id(UUID(ben), Purpose.treatment.value)),  # Ben's
        "webhook_id": "00000000-0000-4000-8000-000000000060",
        "delivery_id": "00000000-0000-4000-8000-000000000061",
    }


def test_a_provider_reaches_only_their_own_patients_and_visits(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    world = _world(client, container, token_for, project)
    theirs = _token(container, Role.provider, world["provider_id"])
    stranger = _token(container, Role.provider, "00000000-0000-4000-8000-000000000001")
    ana, visit = world["patient_id"], world["appointment_id"]
    assert client.get(f"/patients/{ana}", headers=theirs).status_code == 200
    assert client.get(f"/patients/{ana}/consents", headers=theirs).status_code == 200
    for path in (f"/patients/{ana}", f"/patients/{ana}/consents"):
        refused = client.get(path, headers=stranger)
        assert refused.status_code == 404 and refused.json()["error"] == "not-found"
    assert client.post(f"/bookings/{visit}/check-in", headers=stranger).status_code == 404
    assert client.post(f"/bookings/{visit}/check-in", headers=theirs).status_code == 200
    assert client.get(f"/bookings/{visit}", headers=stranger).status_code == 404
