"""Keeping a held time longer ("keep my time", WCAG 2.2 SC 2.2.1) on real Redis: only with
the hold's secret, the full hold time again from now, at most ten times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.e2e.clinic_flow import open_slots, set_up_clinic


def test_a_hold_is_kept_longer_by_its_holder_ten_times_at_most(
        client: TestClient, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    held = client.post("/holds", json={"slot_id": slot["id"]}).json()
    path = f"/holds/{slot['id']}/{held['hold_id']}/extend"

    stranger = client.post(path, headers={"Hold-Secret": "not-the-secret"})
    assert stranger.status_code == 409 and stranger.json()["error"] == "slot-held"
    expires = datetime.fromisoformat(held["expires_at"])
    for _ in range(10):
        kept = client.post(path, headers={"Hold-Secret": held["hold_secret"]})
        assert kept.status_code == 200, kept.text
        assert datetime.fromisoformat(kept.json()["expires_at"]) >= expires
        expires = datetime.fromisoformat(kept.json()["expires_at"])
    enough = client.post(path, headers={"Hold-Secret": held["hold_secret"]})
    assert enough.status_code == 409 and enough.json()["error"] == "hold-extension-limit"

    booked_with_it = client.delete(f"/holds/{slot['id']}/{held['hold_id']}",
                                   headers={"Hold-Secret": held["hold_secret"]})
    assert booked_with_it.status_code == 204
    gone = client.post(path, headers={"Hold-Secret": held["hold_secret"]})
    assert gone.status_code == 404 and gone.json()["error"] == "hold-not-found"
