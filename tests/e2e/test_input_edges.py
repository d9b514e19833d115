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
