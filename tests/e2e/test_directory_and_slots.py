"""Clinics, services, providers, hours and slot search over HTTP, as an admin and a patient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role

ADDRESS = {"line": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "02110"}
HOURS = {"weekly": {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in
                    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                     "sunday"]},
         "granularity_minutes": 30, "horizon_days": 10, "min_notice_minutes": 0}


def _setup(client: TestClient, token_for: Any) -> dict[str, str]:
    admin = token_for(Role.admin)
    clinic = client.post("/clinics", headers=admin, json={
        "name": "Harbor", "address": ADDRESS, "time_zone": "America/New_York",
        "modalities": ["in_person", "telehealth"]})
    assert clinic.status_code == 201, clinic.text
    assert clinic.headers["location"] == f"/clinics/{clinic.json()['id']}"
    service = client.post("/services", headers=admin, json={
        "name": "Checkup", "duration_minutes": 30, "modality": "in_person"}).json()
    video = client.post("/services", headers=admin, json={
        "name": "Video", "duration_minutes": 20, "modality": "telehealth"}).json()
    provider = client.post("/providers", headers=admin, json={
        "display_name": "Dr. One", "clinic_ids": [clinic.json()["id"]],
        "service_ids": [service["id"], video["id"]]})
    assert provider.status_code == 201, provider.text
    ids = {"clinic": clinic.json()["id"], "service": service["id"], "video": video["id"],
           "provider": provider.json()["id"]}
    hours = client.put(f"/providers/{ids['provider']}/availability/{ids['clinic']}",
                       headers=token_for(Role.provider, ids["provider"]), json=HOURS)
    assert hours.status_code == 200, hours.text
    return ids


def test_an_admin_sets_up_a_clinic_and_a_patient_finds_slots(
    client: TestClient, token_for: Any, project: Any
) -> None:
    ids = _setup(client, token_for)
    project()
    assert [c["name"] for c in client.get("/clinics").json()] == ["Harbor"]
    assert client.get(f"/clinics/{ids['clinic']}").json()["time_zone"] == "America/New_York"
    assert len(client.get("/services").json()) == 2
    assert client.get("/providers", params={"service_id": ids["video"]}).json()[0]["id"] \
        == ids["provider"]
    assert client.get(f"/providers/{ids['provider']}/availability/{ids['clinic']}"
                      ).json()["rules"]["granularity_minutes"] == 30

    page = client.get("/slots", params={"service_id": ids["service"], "limit": 5,
                                        "tz": "America/Los_Angeles"})
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["slots"]) == 5 and body["next_cursor"]
    first = body["slots"][0]
    assert first["service"]["name"] == "Checkup" and first["modality"] == "in_person"
    assert first["clinic_time_zone"] == "America/New_York"
    local = datetime.fromisoformat(first["clinic_local_start"])
    assert 9 <= local.hour < 17
    shown = datetime.fromisoformat(first["display_start"])
    assert shown.utcoffset() in (timedelta(hours=-8), timedelta(hours=-7))
    assert datetime.fromisoformat(first["start"]) > datetime.now(UTC)
    starts = [s["start"] for s in body["slots"]]
    assert starts == sorted(starts)


def test_pagination_walks_every_slot_once(client: TestClient, token_for: Any,
                                          project: Any) -> None:
    ids = _setup(client, token_for)
    project()
    params = {"provider_id": ids["provider"], "limit": 37}
    everything = client.get("/slots", params={**params, "limit": 200}).json()["slots"]
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get("/slots", params={**params, **({"cursor": cursor} if cursor else {})})
        seen += [s["id"] for s in page.json()["slots"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert len(seen) >= len(everything)
    assert seen[:len(everything)] == [s["id"] for s in everything]


def test_filters_narrow_the_search(client: TestClient, token_for: Any, project: Any) -> None:
    ids = _setup(client, token_for)
    project()
    video = client.get("/slots", params={"modality": "telehealth", "limit": 200}).json()
    assert video["slots"] and all(s["service"]["id"] == ids["video"] for s in video["slots"])
    start = datetime.now(UTC) + timedelta(days=2)
    window = client.get("/slots", params={"start_from": start.isoformat(),
                                          "start_to": (start + timedelta(hours=6)).isoformat(),
                                          "limit": 200}).json()["slots"]
    assert all(start <= datetime.fromisoformat(s["start"]) < start + timedelta(hours=6)
               for s in window)


def test_bad_searches_are_clear_problems(client: TestClient, token_for: Any,
                                         project: Any) -> None:
    _setup(client, token_for)
    project()
    now = datetime.now(UTC)
    reversed_range = client.get("/slots", params={
        "start_from": now.isoformat(), "start_to": (now - timedelta(days=1)).isoformat()})
    assert reversed_range.status_code == 422
    assert reversed_range.json()["type"] == "urn:clinic:problem:validation-error"
    assert "after start_from" in reversed_range.json()["detail"]
    too_long = client.get("/slots", params={
        "start_from": now.isoformat(), "start_to": (now + timedelta(days=200)).isoformat()})
    assert too_long.status_code == 422
    unknown = client.get("/slots", params={"clinic_id": "00000000-0000-0000-0000-000000000001"})
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:clinic:problem:not-found"
    assert client.get("/slots", params={"cursor": "garbage"}).status_code == 422
    assert client.get("/slots", params={"tz": "Mars/Olympus"}).status_code == 422
    assert client.get("/slots", params={"modality": "carrier-pigeon"}).status_code == 422
    assert client.get("/clinics/00000000-0000-0000-0000-000000000001").status_code == 404


def test_directory_commands_refuse_bad_input_and_wrong_roles(
    client: TestClient, token_for: Any
) -> None:
    admin = token_for(Role.admin)
    bad_zone = client.post("/clinics", headers=admin, json={
        "name": "X", "address": ADDRESS, "time_zone": "EST", "modalities": ["in_person"]})
    assert bad_zone.status_code == 422
    assert bad_zone.json()["error"] == "invalid-clinic"
    extra_field = client.post("/services", headers=admin, json={
        "name": "X", "duration_minutes": 30, "modality": "in_person", "price": 5})
    assert extra_field.status_code == 422
    unknown_clinic = client.post("/providers", headers=admin, json={
        "display_name": "Dr. X", "clinic_ids": ["00000000-0000-0000-0000-000000000001"],
        "service_ids": ["00000000-0000-0000-0000-000000000002"]})
    assert unknown_clinic.status_code == 404
    patient = client.post("/services", headers=token_for(Role.patient),
                          json={"name": "X", "duration_minutes": 30, "modality": "in_person"})
    assert patient.status_code == 403
    assert client.get("/services").json() == []


def test_providers_edit_only_their_own_hours(client: TestClient, token_for: Any) -> None:
    ids = _setup(client, token_for)
    url = f"/providers/{ids['provider']}/availability/{ids['clinic']}"
    other = client.put(url, headers=token_for(Role.provider, "someone-else"), json=HOURS)
    assert other.status_code == 403
    reversed_hours = {**HOURS, "weekly": {"monday": [["17:00", "09:00"]]}}
    bad = client.put(url, headers=token_for(Role.admin), json=reversed_hours)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid-availability"
    elsewhere = client.post("/clinics", headers=token_for(Role.admin), json={
        "name": "Other", "address": ADDRESS, "time_zone": "America/Chicago",
        "modalities": ["in_person"]}).json()
    not_there = client.put(f"/providers/{ids['provider']}/availability/{elsewhere['id']}",
                           headers=token_for(Role.admin), json=HOURS)
    assert not_there.status_code == 422


def test_search_times_are_rfc3339_instants(client: TestClient) -> None:
    # `start_from=0` was the Unix epoch and a bare "2026-12-01T09:00" an instant in no zone;
    # the document says date-time (RFC 3339, with its offset). The class of bug the OpenAPI
    # fuzzer (tests/e2e/test_openapi_fuzz.py) found for `day` and `birth_date`.
    for value in ("0", "1700000000", "2026-12-01", "2026-12-01T09:00"):
        for name in ("start_from", "start_to"):
            refused = client.get("/slots", params={name: value})
            assert refused.status_code == 422, (name, value)
            assert refused.json()["errors"][0]["location"] == ["query", name]
    for value in ("2026-12-01T09:00:00Z", "2026-12-01T09:00:00.5-05:00"):
        assert client.get("/slots", params={"start_from": value}).status_code == 200, value


def test_pages_go_on_past_times_others_hold(client: TestClient, token_for: Any, project: Any,
                                           container: Any) -> None:
    """A page reads a few rows more than it shows, to stay full when some are held; when
    more of them are held than that, the search must still say where to go on, and the
    pages together must show every time nobody holds."""
    from uuid import UUID

    ids = _setup(client, token_for)
    project()
    params = {"provider_id": ids["provider"], "limit": 5}
    everything = [s["id"] for s in client.get(
        "/slots", params={**params, "limit": 200}).json()["slots"]]
    held = everything[2:30]  # far more than a page's slack
    for n, slot_id in enumerate(held):
        assert container.holds.place(UUID(slot_id), f"other-{n}", "s", 60_000, 3) is not None
    seen: list[str] = []
    cursor, pages = None, 0
    while pages < 100:
        page = client.get("/slots", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += [s["id"] for s in page.json()["slots"]]
        cursor, pages = page.json()["next_cursor"], pages + 1
        if not cursor:
            break
    assert not set(seen) & set(held)
    assert [s for s in everything if s not in held] == seen[:len(everything) - len(held)]
    assert len(seen) == len(set(seen))
