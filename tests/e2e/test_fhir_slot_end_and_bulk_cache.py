"""The Slot `end` search parameter (instants and clinic-local days, as `start`), and
`$bulk-publish`'s Last-Modified (the directory's last change) that never turns a booking
into a stale 304: the validator is the ETag (docs/fhir.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.clinic_flow import ADDRESS, set_up_clinic, sign_up

FHIR = "/fhir/R4"
NEW_YORK = ZoneInfo("America/New_York")


def _slots(client: TestClient, **params: Any) -> list[tuple[datetime, datetime, str]]:
    """(start, end, id) of every matching Slot, across pages."""
    found: list[tuple[datetime, datetime, str]] = []
    answer = client.get(f"{FHIR}/Slot", params={"_count": 200, **params})
    while True:
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += [(_instant(e["resource"]["start"]), _instant(e["resource"]["end"]),
                   e["resource"]["id"]) for e in page["entry"]]
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            return found
        answer = client.get(following[0])


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_slot_end_filters_by_instant_and_by_clinic_local_day(
        client: TestClient, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)  # around the clock, every 30 minutes
    project()
    day = (datetime.now(UTC) + timedelta(days=2)).astimezone(NEW_YORK).date()
    local_midnight = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    window = {"service-type": ids["long"],  # 60-minute visits: ends straddle the bounds
              "start": [f"ge{(local_midnight - timedelta(hours=3)).isoformat()}",
                        f"lt{(local_midnight + timedelta(hours=27)).isoformat()}"]}
    every = _slots(client, **window)
    assert len(every) == 30, len(every)  # 30 hours of back-to-back 60-minute visits
    cut = (local_midnight + timedelta(hours=12)).astimezone(UTC)
    for prefix, keep in (("le", lambda end: end <= cut), ("lt", lambda end: end < cut),
                         ("ge", lambda end: end >= cut), ("gt", lambda end: end > cut),
                         ("eq", lambda end: end == cut)):
        found = _slots(client, **window, end=f"{prefix}{cut.isoformat()}")
        expected = [s for s in every if keep(s[1])]
        assert found == expected and 0 < len(found) < len(every), prefix
    # An overlap query: the visits that end inside a window, whatever their start.
    within = _slots(client, **window, end=[f"gt{cut.isoformat()}",
                                           f"le{(cut + timedelta(hours=2)).isoformat()}"])
    assert [s[1] for s in within] == [cut + timedelta(hours=n) for n in (1, 2)]

    by_day = _slots(client, **window, end=day.isoformat())  # ends on that day, clinic time
    assert by_day == [s for s in every if s[1].astimezone(NEW_YORK).date() == day]
    assert by_day[0][0].astimezone(NEW_YORK).date() < day  # began the evening before
    assert len(by_day) == 24
    after = _slots(client, **window, end=f"ge{(day + timedelta(days=1)).isoformat()}")
    assert after == [s for s in every if s[1].astimezone(NEW_YORK).date() > day]

    for bad in ("tomorrow", "2026-12-08T09:00:00", "sa2026-12-08"):
        answer = client.get(f"{FHIR}/Slot", params={**window, "end": bad})
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["resourceType"] == "OperationOutcome"
        assert answer.json()["issue"][0]["details"]["coding"][0]["code"] == \
            "invalid-fhir-search"


def test_bulk_publish_last_modified_is_the_directorys_and_etag_is_the_validator(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    """Last-Modified says when the clinics or their hours last changed (the Location and
    Schedule files); a booking changes the Slot file but not that time, so the validator
    that answers 304 is the ETag, and If-Modified-Since alone never gets a stale 304."""
    ids = set_up_clinic(client, token_for)
    project()
    manifest = client.get(f"{FHIR}/$bulk-publish")
    assert manifest.status_code == 200, manifest.text
    etag, modified = manifest.headers["etag"], manifest.headers["last-modified"]
    changed = parsedate_to_datetime(modified)
    assert modified.endswith(" GMT") and changed <= datetime.now(UTC)
    transaction = datetime.fromisoformat(manifest.json()["transactionTime"])
    assert changed == transaction.replace(microsecond=0)
    for output in manifest.json()["output"]:
        answer = client.get(output["url"])
        assert (answer.headers["last-modified"], answer.headers["etag"]) == (modified, etag)

    _, headers = sign_up(client, container, "cache@example.org")
    slot = client.get(f"{FHIR}/Slot", params={"service-type": ids["checkup"], "_count": 1}
                      ).json()["entry"][0]["resource"]["id"]
    assert client.post("/bookings", headers=headers, json={"slot_id": slot}).status_code == 201
    project()
    for path in ("/$bulk-publish", "/$bulk-publish/Slot.ndjson"):
        revalidated = client.get(FHIR + path, headers={"If-Modified-Since": modified})
        assert revalidated.status_code == 200, path  # not a stale 304: the slots changed
        assert revalidated.headers["last-modified"] == modified
        assert revalidated.headers["etag"] != etag
    fresh = client.get(f"{FHIR}/$bulk-publish/Slot.ndjson").text
    assert slot not in fresh
    current = client.get(f"{FHIR}/$bulk-publish").headers["etag"]
    assert client.get(f"{FHIR}/$bulk-publish", headers={"If-None-Match": current}
                      ).status_code == 304

    before = datetime.now(UTC).replace(microsecond=0)
    admin = token_for(Role.admin)
    assert client.put(f"/clinics/{ids['clinic']}", headers=admin, json={
        "name": "Harbor North", "address": ADDRESS, "modalities": ["in_person", "telehealth"]}
    ).status_code == 200
    project()
    renamed = client.get(f"{FHIR}/$bulk-publish")
    assert parsedate_to_datetime(renamed.headers["last-modified"]) >= before
    assert renamed.headers["etag"] != current
