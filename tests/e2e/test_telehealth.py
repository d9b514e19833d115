"""Telehealth join links over HTTP: each participant gets their own, joins only while the visit
is open and as it is now (cancelled or moved visits refuse old links), forged or expired links
are refused, and no link ever reaches a log line."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from domain.access import Role
from infra.observability.logging import configure_logging
from infra.settings import Settings
from infra.wiring.container import Container
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up

VIDEO_CONSENTS = ("treatment", "telehealth")
SAFE_FIELDS = {"room_id", "role", "provider_name", "service_name", "clinic_name", "start", "end"}


@pytest.fixture
def early_minutes() -> int:
    """A visit opens a whole day early here, so that the visits booked below (an hour or two
    ahead: the minimum notice) are joinable now; a test parametrizes it to see one closed."""
    return 24 * 60


@pytest.fixture
def settings(settings: Settings, early_minutes: int) -> Settings:
    return settings.model_copy(update={"telehealth_join_early_minutes": early_minutes,
                                       "public_url": "https://clinic.example.org"})


def _video_visit(client: TestClient, container: Container, token_for: Any,
                 project: Any) -> dict[str, Any]:
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    slots = open_slots(client, ids["long"])
    patient_id, patient = sign_up(client, container, "ana@example.org", VIDEO_CONSENTS)
    booked = client.post("/bookings", headers=patient,
                         json={"slot_id": slots[0]["id"], "reason": "rash follow-up"})
    assert booked.status_code == 201, booked.text
    return {"ids": ids, "slots": slots, "patient_id": patient_id, "patient": patient,
            "provider": token_for(Role.provider, ids["provider"]),
            "appointment": booked.json()}


def _link(client: TestClient, appointment_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/appointments/{appointment_id}/join-link", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    link: dict[str, Any] = response.json()
    return link


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _join(client: TestClient, token: str) -> Any:
    return client.get("/telehealth/join", params={"token": token})


def _refused(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["error"] == error, problem
    return problem


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_patient_and_provider_each_get_their_own_link_and_meet_in_one_room(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    visit = _video_visit(client, container, token_for, project)
    appointment = visit["appointment"]
    mine = _link(client, appointment["id"], visit["patient"])
    theirs = _link(client, appointment["id"], visit["provider"])
    assert (mine["role"], theirs["role"]) == ("patient", "provider")
    assert mine["url"].startswith("https://clinic.example.org/telehealth/join?token=")
    assert _token(mine["url"]) != _token(theirs["url"])
    assert _at(mine["expires_at"]) == _at(appointment["end"])
    assert _at(mine["opens_at"]) == _at(appointment["start"]) - timedelta(days=1)

    sessions = []
    for link in (mine, theirs):
        joined = _join(client, _token(link["url"]))
        assert joined.status_code == 200, joined.text
        assert joined.headers["cache-control"] == "no-store"
        sessions.append(joined.json())
    patient_view, provider_view = sessions
    assert set(patient_view) == SAFE_FIELDS
    assert patient_view["room_id"] == provider_view["room_id"]
    assert (patient_view["role"], provider_view["role"]) == ("patient", "provider")
    assert (patient_view["provider_name"], patient_view["service_name"],
            patient_view["clinic_name"]) == ("Dr. One", "Long visit", "Harbor")
    assert _at(patient_view["start"]) == _at(appointment["start"])
    text = json.dumps(sessions)
    for secret in (appointment["id"], uuid.UUID(appointment["id"]).hex, "Ana", "Lima",
                   "ana@example.org", "rash", visit["patient_id"]):
        assert secret not in text

    # Each join is in the access audit, by the participant, without the link.
    audit = client.get("/audit-events", params={"patient_id": visit["patient_id"]},
                       headers=token_for(Role.compliance)).json()
    joins = [e for e in audit["events"] if e["resource"] == "GET /telehealth/join"]
    assert sorted(e["role"] for e in joins) == ["patient", "provider"]


def test_only_the_visits_own_participants_get_a_link(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    visit = _video_visit(client, container, token_for, project)
    path = f"/appointments/{visit['appointment']['id']}/join-link"
    _, ben = sign_up(client, container, "ben@example.org", VIDEO_CONSENTS)
    strangers = [ben, token_for(Role.provider, str(uuid.uuid4())), token_for(Role.front_desk),
                 token_for(Role.admin)]
    for headers in strangers:
        _refused(client.get(path, headers=headers), 404, "not-found")
    assert client.get(path).status_code == 401
    assert client.get(path, headers=token_for(Role.analyst)).status_code == 403
    unknown = client.get(f"/appointments/{uuid.uuid4()}/join-link", headers=visit["patient"])
    assert unknown.status_code == 404


def test_an_in_person_visit_has_no_link(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    _, patient = sign_up(client, container, "cy@example.org")
    booked = client.post("/bookings", headers=patient,
                         json={"slot_id": open_slots(client, ids["checkup"])[0]["id"]}).json()
    problem = _refused(client.get(f"/appointments/{booked['id']}/join-link", headers=patient),
                       422, "not-telehealth")
    assert problem["type"] == "urn:clinic:problem:rule-violation"


def test_forged_tampered_and_expired_links_are_401(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    visit = _video_visit(client, container, token_for, project)
    appointment = visit["appointment"]
    token = _token(_link(client, appointment["id"], visit["patient"])["url"])
    header, payload, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "provider"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    start, end = _at(appointment["start"]), _at(appointment["end"])
    links = container.join_links
    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = links.token(uuid.UUID(appointment["id"]), "patient",
                          uuid.UUID(visit["patient_id"]), past - timedelta(hours=1), past)
    someone_else = links.token(uuid.UUID(appointment["id"]), "patient", uuid.uuid4(), start, end)
    api_token = visit["patient"]["Authorization"].removeprefix("Bearer ")
    for bad in (f"{header}.{payload}.{flipped}", f"{header}.{forged_payload}.{signature}",
                expired, someone_else, api_token, "not-a-token"):
        problem = _refused(_join(client, bad), 401, "invalid-join-link")
        assert problem["type"] == "urn:clinic:problem:unauthenticated"
        assert bad not in json.dumps(problem)
    assert "expired" in _join(client, expired).json()["detail"]
    assert _join(client, token).status_code == 200  # the genuine one still works


@pytest.mark.parametrize("early_minutes", [15])
def test_too_early_is_refused_with_the_opening_time(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    visit = _video_visit(client, container, token_for, project)
    link = _link(client, visit["appointment"]["id"], visit["patient"])
    opens = _at(visit["appointment"]["start"]) - timedelta(minutes=15)
    assert _at(link["opens_at"]) == opens
    problem = _refused(_join(client, _token(link["url"])), 409, "join-not-open")
    assert problem["type"] == "urn:clinic:problem:conflict"
    assert _at(problem["opens_at"]) == opens


def test_a_cancelled_visit_refuses_its_links(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    visit = _video_visit(client, container, token_for, project)
    appointment_id = visit["appointment"]["id"]
    links = [_link(client, appointment_id, h) for h in (visit["patient"], visit["provider"])]
    cancelled = client.post(f"/bookings/{appointment_id}/cancel", headers=visit["patient"],
                            json={})
    assert cancelled.status_code == 200, cancelled.text
    for link in links:  # at once: the event store, not a lagging read model, decides
        _refused(_join(client, _token(link["url"])), 409, "visit-not-joinable")
    _refused(client.get(f"/appointments/{appointment_id}/join-link", headers=visit["patient"]),
             409, "visit-not-joinable")


def test_a_moved_visit_refuses_old_links_and_new_ones_work(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    visit = _video_visit(client, container, token_for, project)
    appointment_id = visit["appointment"]["id"]
    old = _link(client, appointment_id, visit["patient"])
    new_slot = visit["slots"][2]
    moved = client.post(f"/bookings/{appointment_id}/reschedule", headers=visit["patient"],
                        json={"slot_id": new_slot["id"]})
    assert moved.status_code == 200, moved.text
    _refused(_join(client, _token(old["url"])), 409, "stale-join-link")
    new = _link(client, appointment_id, visit["patient"])
    joined = _join(client, _token(new["url"]))
    assert joined.status_code == 200, joined.text
    assert _at(joined.json()["start"]) == _at(new_slot["start"])


def test_join_links_never_reach_a_log_line_or_the_audit(
        client: TestClient, container: Container, token_for: Any, project: Any,
        capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG")  # the production pipeline, everything it would log
    visit = _video_visit(client, container, token_for, project)
    url = _link(client, visit["appointment"]["id"], visit["patient"])["url"]
    token = _token(url)
    assert _join(client, token).status_code == 200
    assert _join(client, token[:-12] + "x" * 12).status_code == 401
    # Were a URL ever logged (uvicorn's access line, a client library), it would be masked.
    logging.getLogger("clinic.test").info('%s - "GET %s HTTP/1.1" 200', "127.0.0.1:5",
                                          f"/telehealth/join?token={token}")
    logging.getLogger("clinic.test").warning("sending %s", url)
    logged = capfd.readouterr().err
    assert '"route":"/telehealth/join"' in logged  # the request line names the route only
    assert "token=[token]" in logged
    signature = token.rsplit(".", 1)[1]
    assert token not in logged and signature not in logged
    with container.pool.connection() as conn:
        rows = conn.execute("SELECT * FROM audit_events").fetchall()
    assert rows and signature not in repr(rows)
