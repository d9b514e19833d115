"""Inputs at the edges of what a route accepts (issue "Hardening", items 2 and 3): a clear
422 problem, never a 500 or a silently clamped value, and no input echoed in `detail`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.access import Role
from tests.e2e.clinic_flow import set_up_clinic


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                                     "2201-01-01T00:00:00Z"])
def test_slot_search_refuses_dates_far_outside_any_clinics_calendar(
        client: TestClient, instant: str) -> None:
    for name in ("start_from", "start_to"):
        answer = client.get("/slots", params={name: instant})
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["type"] == "urn:clinic:problem:validation-error"
        assert problem["error"] == "invalid-search" and name in problem["detail"]


def test_the_development_mailbox_refuses_a_limit_out_of_range(client: TestClient) -> None:
    for limit in (-1, 0, 101):
        answer = client.get("/dev/mailbox", params={"limit": limit})
        assert answer.status_code == 422, (limit, answer.text)
    assert client.get("/dev/mailbox", params={"limit": 1}).status_code == 200


@pytest.mark.parametrize("weekly, exceptions", [
    ({"monday": [["12:00", "09:00"]]}, []),  # reversed
    ({"monday": [["09:00", "24:30"]]}, []),  # past midnight
    ({}, [{"date": "2026-02-30", "kind": "off"}]),  # no such day
])
def test_refused_hours_do_not_echo_what_was_sent(client: TestClient, token_for: Any,
                                                 weekly: dict[str, Any],
                                                 exceptions: list[dict[str, Any]]) -> None:
    ids = set_up_clinic(client, token_for)
    admin = token_for(Role.admin)
    answer = client.put(f"/providers/{ids['provider']}/availability/{ids['clinic']}",
                        headers=admin, json={"weekly": weekly, "exceptions": exceptions})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    for sent in ("12:00", "24:30", "2026-02-30"):
        assert sent not in detail, detail


@pytest.mark.parametrize("field, value", [
    ("email", "n\u0000ul@example.org"),  # registered and got a code before
    ("given_name", "Ana\u202e"),
    ("family_name", "Lima\ud800"),
    ("phone", "+1 617 555\u0000 0100"),
])
def test_text_a_database_or_screen_cannot_hold_is_refused_naming_the_field(
        client: TestClient, field: str, value: str) -> None:
    import json

    body = {"given_name": "Ana", "family_name": "Lima", "birth_date": "1990-04-01",
            "email": "ana@example.org", "phone": None, field: value}
    answer = client.post("/patients", content=json.dumps(body),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"] == "urn:clinic:problem:validation-error"
    assert [e["location"] for e in problem["errors"]] == [["body", field]]
    assert value not in answer.text and json.dumps(value)[1:-1] not in answer.text


def test_a_clinic_name_with_nul_is_refused_and_nothing_is_recorded(
        client: TestClient, token_for: Any) -> None:
    admin = token_for(Role.admin)
    before = client.get("/clinics").json()
    answer = client.post("/clinics", headers=admin, json={
        "name": "Har\u0000bor", "time_zone": "America/New_York", "modalities": ["in_person"],
        "address": {"line": "1 Main St", "city": "Boston", "state": "MA",
                    "postal_code": "02110"}})
    assert answer.status_code == 422, answer.text
    assert [e["location"] for e in answer.json()["errors"]] == [["body", "name"]]
    assert client.get("/clinics").json() == before


def test_text_not_in_normal_form_c_is_refused_by_the_domain_naming_the_field(
        client: TestClient) -> None:
    # No JSON Schema pattern can say "NFC", so the document does not promise it: the domain
    # refuses it as invalid-text, naming the field in `detail`.
    answer = client.post("/patients", json={
        "given_name": "Jose\u0301", "family_name": "Lima", "birth_date": "1990-04-01",
        "email": "jose@example.org"})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["error"] == "invalid-text"
    assert problem["detail"] == "the given name is not in Unicode normal form C (NFC)"


def test_an_unknown_time_zone_is_refused_without_echoing_it(client: TestClient) -> None:
    answer = client.get("/slots", params={"tz": "Mars/Olympus_Mons-PHI-marker"})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["error"] == "invalid-search" and "tz" in problem["detail"]
    assert "Olympus" not in answer.text
