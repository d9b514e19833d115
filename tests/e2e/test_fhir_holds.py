"""A `$hold` that cannot be had (held by someone else, already booked, unknown, one hold
too many) is a clean OperationOutcome with the JSON API's status and code, naming the
slot in the way (docs/fhir.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from infra.wiring.container import Container
from tests.e2e.clinic_flow import set_up_clinic, sign_up
from tests.harness.fhir_validator import errors

FHIR = "/fhir/R4"
JSON = "application/fhir+json"


def _hold(client: TestClient, appointment_id: str, headers: dict[str, str] | None = None
          ) -> Any:
    return client.post(f"{FHIR}/Appointment/$hold", headers={
        **(headers or {}), "content-type": JSON}, content=json.dumps({
            "resourceType": "Parameters", "parameter": [{
                "name": "appointment-reference",
                "valueReference": {"reference": f"Appointment/{appointment_id}"}}]}))


def _refused(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(JSON)
    outcome: dict[str, Any] = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == code, outcome
    return outcome


def test_a_hold_that_cannot_be_had_is_a_clean_operation_outcome(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    found = client.get(f"{FHIR}/Appointment/$find", params={
        "service-type": ids["checkup"], "start": f"ge{start.isoformat()}", "_count": 10})
    proposed = [e["resource"] for e in found.json()["entry"]]
    _, ana = sign_up(client, container, "ana.hold@example.org")
    _, ben = sign_up(client, container, "ben.hold@example.org")

    first = proposed[0]
    assert _hold(client, first["id"], ana).status_code == 200
    taken = _refused(_hold(client, first["id"], ben), 409, "slot-held")
    assert taken["issue"][0]["code"] == "conflict"
    assert first["slot"][0]["reference"] in taken["issue"][0]["diagnostics"]

    booked_slot = proposed[2]["slot"][0]["reference"].removeprefix("Slot/")
    assert client.post("/bookings", headers=ben, json={"slot_id": booked_slot}
                       ).status_code == 201
    project()
    booked = _refused(_hold(client, proposed[2]["id"], ana), 409, "slot-taken")
    assert f"Slot/{booked_slot}" in booked["issue"][0]["diagnostics"]
    json_door = client.post("/holds", headers=ana, json={"slot_id": booked_slot})
    assert json_door.status_code == 409 and json_door.json()["error"] == "slot-taken", \
        json_door.text  # one use case, two doors: the same answer

    unknown = _refused(_hold(client, "proposed-0a0a0a0a-0000-4000-8000-000000000000"), 404,
                       "not-found")
    not_proposed = _refused(_hold(client, "0a0a0a0a-0000-4000-8000-000000000000"), 404,
                            "not-found")
    for slot in proposed[3:5]:  # three holds a client may keep (one is the first's)
        assert _hold(client, slot["id"], ana).status_code == 200
    hoarding = _refused(_hold(client, proposed[6]["id"], ana), 429, "hold-limit")
    assert hoarding["issue"][0]["code"] == "throttled"
    problems = errors(taken, booked, unknown, not_proposed, hoarding)
    assert problems == [], "\n".join(map(str, problems))
