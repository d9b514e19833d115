"""The FHIR R4 face (docs/fhir.md): the directory, schedules and slots as FHIR, validated by
HAPI FHIR's instance validator; the same slots as GET /slots; every slot once across pages;
date-only searches are days in each clinic's zone; errors are OperationOutcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from domain.access import Role
from tests.e2e.clinic_flow import ADDRESS, EVERY_DAY, open_slots, set_up_clinic, sign_up
from tests.harness.fhir_validator import errors

FHIR = "/fhir/R4"


def _tokyo_clinic(client: TestClient, token_for: Any, service: str) -> dict[str, str]:
    admin = token_for(Role.admin)
    clinic = client.post("/clinics", headers=admin, json={
        "name": "Shibuya", "address": ADDRESS, "time_zone": "Asia/Tokyo",
        "modalities": ["in_person"]}).json()
    provider = client.post("/providers", headers=admin, json={
        "display_name": "Dr. Two", "clinic_ids": [clinic["id"]],
        "service_ids": [service]}).json()
    answer = client.put(f"/providers/{provider['id']}/availability/{clinic['id']}",
                        headers=admin, json={"weekly": {d: [["00:00", "24:00"]]
                                                        for d in EVERY_DAY},
                                             "granularity_minutes": 60, "horizon_days": 5,
                                             "min_notice_minutes": 60})
    assert answer.status_code == 200, answer.text
    return {"clinic": clinic["id"], "provider": provider["id"]}


def _get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    answer = client.get(FHIR + path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = answer.json()
    return body


def _all_pages(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = _get(client, path, **params)
    while True:
        found += [entry["resource"] for entry in page["entry"]]
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            return found
        answer = client.get(following[0])
        assert answer.status_code == 200, answer.text
        page = answer.json()


def test_the_directory_and_slots_as_valid_fhir(client: TestClient, container: Any,
                                               token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    _, headers = sign_up(client, container, "fhir@example.org")
    assert client.post("/bookings", headers=headers,
                       json={"slot_id": slot["id"]}).status_code == 201
    project()

    seen: list[dict[str, Any]] = [_get(client, "/metadata")]
    locations = _get(client, "/Location")
    assert {e["resource"]["id"] for e in locations["entry"]} == {
        ids["clinic"], f"virtual-{ids['clinic']}"} and locations["total"] == 2
    clinic = _get(client, f"/Location/{ids['clinic']}")
    assert clinic["extension"][0]["valueCode"] == "America/New_York"
    services = _get(client, "/HealthcareService")
    practitioner = _get(client, f"/Practitioner/{ids['provider']}")
    roles = _get(client, "/PractitionerRole", practitioner=f"Practitioner/{ids['provider']}")
    role = roles["entry"][0]["resource"]
    assert _get(client, f"/PractitionerRole/{role['id']}") == role
    schedules = _get(client, "/Schedule", actor=f"Practitioner/{ids['provider']}")
    schedule = schedules["entry"][0]["resource"]
    slots = _get(client, "/Slot", schedule=f"Schedule/{schedule['id']}", _count=5)
    busy = _get(client, "/Slot", schedule=f"Schedule/{schedule['id']}", status="busy")
    taken = [e["resource"] for e in busy["entry"]]  # the visit's time, for every service
    assert slot["id"] in [t["id"] for t in taken]
    assert all(t["start"] < slot["end"].replace("+00:00", "Z") and
               slot["start"].replace("+00:00", "Z") < t["end"] for t in taken)
    assert _get(client, f"/Slot/{slot['id']}")["status"] == "busy"
    seen += [locations, clinic, _get(client, f"/Location/virtual-{ids['clinic']}"), services,
             practitioner, roles, schedules, _get(client, f"/Schedule/{schedule['id']}"),
             slots, busy]
    problems = errors(*seen)
    assert problems == [], "\n".join(map(str, problems))


def test_fhir_slots_are_the_json_apis_slots_each_once_across_pages(
        client: TestClient, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    end = start + timedelta(days=2)
    as_json = []
    params: dict[str, Any] = {"service_id": ids["checkup"], "limit": 13,
                              "start_from": start.isoformat(), "start_to": end.isoformat()}
    while True:
        page = client.get("/slots", params=params).json()
        as_json += [s["id"] for s in page["slots"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    as_fhir = [s["id"] for s in _all_pages(
        client, "/Slot", _count=7, **{"service-type": f"urn:clinic:service|{ids['checkup']}",
                                      "start": [f"ge{start.isoformat()}",
                                                f"lt{end.isoformat()}"]})]
    assert len(as_json) > 20
    assert as_fhir == as_json and len(set(as_fhir)) == len(as_fhir)


def test_a_date_alone_is_that_day_in_each_clinics_zone(
        client: TestClient, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    tokyo = _tokyo_clinic(client, token_for, ids["checkup"])
    project()
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    found = _all_pages(client, "/Slot", start=day.isoformat(), _count=200,
                       **{"service-type": ids["checkup"]})
    zones = {}
    for slot in found:
        schedule = _get(client, f"/{slot['schedule']['reference']}")
        location = next(a["reference"] for a in schedule["actor"]
                        if a["reference"].startswith("Location/"))
        zones[slot["id"]] = _get(client, f"/{location}")["extension"][0]["valueCode"]
    assert set(zones.values()) == {"America/New_York", "Asia/Tokyo"}
    for slot in found:
        local = datetime.fromisoformat(slot["start"].replace("Z", "+00:00")).astimezone(
            ZoneInfo(zones[slot["id"]]))
        assert local.date() == day, (slot["start"], zones[slot["id"]])
    per_zone = {zone: sum(1 for z in zones.values() if z == zone) for zone in zones.values()}
    assert per_zone["Asia/Tokyo"] == 24 and per_zone["America/New_York"] == 48
    by_actor = _all_pages(client, "/Slot", start=day.isoformat(), _count=200,
                          **{"schedule.actor": f"Location/{tokyo['clinic']}"})
    assert len(by_actor) == 24


def test_errors_are_operation_outcomes(client: TestClient) -> None:
    for path, params, status, code in (
            ("/Slot", {"start": "yesterday"}, 400, "invalid-fhir-search"),
            ("/Slot", {"start": "2026-12-08T09:00:00"}, 400, "invalid-fhir-search"),
            ("/Slot", {"start": ["ge2026-12-08", "gt2026-12-09"]}, 400, "invalid-fhir-search"),
            ("/Slot", {"status": "tentative"}, 400, "validation-error"),
            ("/Location/0a0a0a0a-0000-4000-8000-000000000000", {}, 404, "not-found"),
            ("/Location/not-an-id", {}, 404, "not-found"),
            ("/Encounter", {}, 404, "not-found")):
        answer = client.get(FHIR + path, params=params)
        assert answer.status_code == status, (path, params, answer.text)
        assert answer.headers["content-type"].startswith("application/fhir+json")
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["details"]["coding"][0]["code"] == code, outcome


def test_bulk_publish_lists_every_location_schedule_and_bookable_slot(
        client: TestClient, container: Any, token_for: Any, project: Any,
        tmp_path: Path) -> None:
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    manifest = client.get(f"{FHIR}/$bulk-publish")
    assert manifest.status_code == 200, manifest.text
    etag = manifest.headers["etag"]
    assert [o["type"] for o in manifest.json()["output"]] == ["Location", "Schedule", "Slot"]
    files: dict[str, list[dict[str, Any]]] = {}
    for output in manifest.json()["output"]:
        answer = client.get(output["url"])
        assert answer.status_code == 200 and answer.headers["etag"] == etag
        assert answer.headers["content-type"].startswith("application/fhir+ndjson")
        (tmp_path / f"{output['type']}.ndjson").write_text(answer.text)
        files[output["type"]] = [json.loads(line) for line in answer.text.splitlines()]
    open_ids = set()
    for service in (ids["checkup"], ids["long"]):
        params: dict[str, Any] = {"service_id": service, "limit": 200}
        while True:
            page = client.get("/slots", params=params).json()
            open_ids |= {s["id"] for s in page["slots"]}
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
    assert {s["id"] for s in files["Slot"]} == open_ids and len(open_ids) > 100
    link = files["Slot"][0]["extension"][0]
    assert link["valueUrl"].endswith(f"/book?slot={files['Slot'][0]['id']}")
    assert len(files["Location"]) == 2 and len(files["Schedule"]) == 1
    assert client.get(f"{FHIR}/$bulk-publish", headers={"If-None-Match": etag}
                      ).status_code == 304

    _, headers = sign_up(client, container, "bulk@example.org")
    taken = next(s["id"] for s in files["Slot"]  # an in-person one: the patient consented
                 if s["serviceType"][0]["coding"][0]["code"] == ids["checkup"])  # to those
    assert client.post("/bookings", headers=headers, json={"slot_id": taken}).status_code == 201
    project()
    fresh = client.get(f"{FHIR}/$bulk-publish/Slot.ndjson", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert taken not in fresh.text
    problems = errors(*(tmp_path / f"{kind}.ndjson" for kind in ("Location", "Schedule")),
                      *files["Slot"][:50])
    assert problems == [], "\n".join(map(str, problems))




def test_bulk_publish_splits_by_state_and_passes_since_on(
        client: TestClient, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    admin = token_for(Role.admin)
    lakeside = {"name": "Lakeside", "address": {**ADDRESS, "state": "WA"},
                "time_zone": "America/Los_Angeles", "modalities": ["in_person"]}
    west = client.post("/clinics", headers=admin, json=lakeside).json()["id"]
    doctor = client.post("/providers", headers=admin, json={
        "display_name": "Dr. West", "clinic_ids": [west],
        "service_ids": [ids["checkup"]]}).json()["id"]
    assert client.put(f"/providers/{doctor}/availability/{west}", headers=admin, json={
        "weekly": {d: [["09:00", "17:00"]] for d in EVERY_DAY}, "horizon_days": 5,
        "min_notice_minutes": 60}).status_code == 200
    project()
    clinics = {ADDRESS["state"]: ids["clinic"], "WA": west}
    manifest = _manifest(client)
    assert sorted((o["extension"]["state"][0], o["type"]) for o in manifest["output"]) == [
        (state, kind) for state in sorted(clinics) for kind in ("Location", "Schedule", "Slot")]
    by_state: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for output in manifest["output"]:
        answer = client.get(output["url"])
        assert answer.status_code == 200, answer.text
        by_state.setdefault(output["extension"]["state"][0], {})[output["type"]] = [
            json.loads(line) for line in answer.text.splitlines()]
    for state, files in by_state.items():
        clinic = clinics[state]
        assert {r["id"].removeprefix("virtual-") for r in files["Location"]} == {clinic}
        assert {r["actor"][1]["reference"] for r in files["Schedule"]} == {
            f"Location/{clinic}"}
        schedules = {f"Schedule/{r['id']}" for r in files["Schedule"]}
        assert files["Slot"] and {r["schedule"]["reference"] for r in files["Slot"]} <= \
            schedules
    whole = client.get(f"{FHIR}/$bulk-publish/Slot.ndjson").text.splitlines()
    assert sorted(json.loads(line)["id"] for line in whole) == sorted(
        r["id"] for files in by_state.values() for r in files["Slot"])

    mark = datetime.now(UTC)
    since = _manifest(client, _since=mark.isoformat())
    assert all("_since=" in o["url"] for o in since["output"])
    west_locations = next(o["url"] for o in since["output"]
                          if o["type"] == "Location" and o["extension"]["state"] == ["WA"])
    assert client.get(west_locations).text == ""  # nothing changed since the mark
    assert client.put(f"/clinics/{west}", headers=admin, json={
        "name": "Lakeside North", "address": lakeside["address"],
        "modalities": ["in_person"]}).status_code == 200
    project()
    changed = [json.loads(line) for line in client.get(f"{FHIR}/$bulk-publish/Location.ndjson",
                                                       params={"_since": mark.isoformat()}
                                                       ).text.splitlines()]
    assert [r["name"] for r in changed] == ["Lakeside North"]
    renamed = datetime.now(UTC)
    assert client.put(f"/providers/{doctor}", headers=admin, json={
        "display_name": "Dr. West-Lee", "clinic_ids": [west],
        "service_ids": [ids["checkup"]]}).status_code == 200
    project()
    schedules = [json.loads(line) for line in client.get(
        f"{FHIR}/$bulk-publish/Schedule.ndjson", params={"_since": renamed.isoformat()}
    ).text.splitlines()]  # the Schedule shows the provider's name: it changed too
    assert [s["actor"][0]["display"] for s in schedules] == ["Dr. West-Lee"]


def _manifest(client: TestClient, **params: Any) -> dict[str, Any]:
    answer = client.get(f"{FHIR}/$bulk-publish", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_capability_statement_lists_exactly_what_is_served(client: TestClient) -> None:
    statement = _get(client, "/metadata")["rest"][0]
    openapi = client.get("/openapi.json").json()["paths"]
    paths = [p.removeprefix(FHIR + "/") for p in openapi
             if p.startswith(FHIR + "/") and p != FHIR + "/metadata"]
    served = {p.split("/")[0] for p in paths if not p.startswith("$")}
    assert {r["type"] for r in statement["resource"]} == served
    for resource in statement["resource"]:
        kind = resource["type"]
        codes = {i["code"] for i in resource["interaction"]}
        assert ("read" in codes) == any(p.startswith(f"{kind}/{{") for p in paths), kind
        assert ("search-type" in codes) == (kind in paths), kind
    operations = {p.rsplit("$", 1)[1].split("/")[0] for p in paths if "$" in p}
    assert {o["name"] for o in statement["operation"]} == operations
    for resource in statement["resource"]:  # each search's parameters, no more, no fewer
        kind = resource["type"]
        search = openapi.get(f"{FHIR}/{kind}", {}).get("get", {})
        served_parameters = {p["name"] for p in search.get("parameters", [])
                             if p["in"] == "query"} - {"_page_token"}  # the next link's
        listed = [p["name"] for p in resource.get("searchParam", [])]
        assert sorted(listed) == sorted(served_parameters), kind
        assert len(listed) == len(set(listed)), kind
