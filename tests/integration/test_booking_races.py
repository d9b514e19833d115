"""Many HTTP clients racing for one time, against `clinic serve` on real PostgreSQL and
Redis: exactly one wins, the rest get 409, and nothing answers 5xx."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

import httpx

from domain.consent import POLICIES, Purpose
from infra.wiring.container import Container
from tests.builders import build_world
from tests.driver import drive
from tests.races import post_all_at_once


def _patients(container: Container, count: int) -> list[dict[str, str]]:
    headers = []
    for n in range(count):
        pid, _ = drive(container).register_patient("Race", f"Runner{n}", date(1990, 1, 1),
                                                f"race{n}@example.org", None)
        drive(container).verify_patient_email(pid)
        for purpose in (Purpose.treatment, Purpose.telehealth):
            drive(container).grant_consent(pid, purpose, POLICIES[purpose].version, "web")
        token = container.sessions.sign_in(pid).access_token
        headers.append({"Authorization": f"Bearer {token}"})
    return headers


def _race(base: str, requests: list[tuple[dict[str, str], dict[str, Any]]]) -> list[httpx.Response]:
    return post_all_at_once(base, [("/bookings", headers, body) for headers, body in requests])


def _slots(container: Container, service: Any, provider: Any) -> list[dict[str, Any]]:
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT slot_id, start_at, end_at FROM open_slots WHERE provider_id = %s "
            "AND service_id = %s AND book_by > now() ORDER BY start_at LIMIT 40",
            (provider, service)).fetchall()
    return [{"id": str(r[0]), "start": r[1], "end": r[2]} for r in rows]


def test_fifty_clients_one_slot_one_winner(api: str, container: Container,
                                           project: Any) -> None:
    world = build_world(drive(container))
    project()
    slot = _slots(container, world.checkup, world.provider)[5]
    patients = _patients(container, 50)
    responses = _race(api, [(h, {"slot_id": slot["id"]}) for h in patients])
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    assert all(r.headers["content-type"] == "application/problem+json"
               for r in responses if r.status_code == 409)


def test_twenty_clients_overlapping_durations_never_overlap(api: str, container: Container,
                                                            project: Any) -> None:
    world = build_world(drive(container))
    project()
    checkups = _slots(container, world.checkup, world.provider)[:12]
    videos = _slots(container, world.video, world.provider)[:12]
    candidates = (checkups[:10] + videos[:10])
    patients = _patients(container, len(candidates))
    responses = _race(api, [(h, {"slot_id": s["id"]}) for h, s in zip(patients, candidates,
                                                                         strict=True)])
    assert all(r.status_code in (201, 409) for r in responses), [
        (r.status_code, r.text[:200]) for r in responses if r.status_code not in (201, 409)]
    won = sorted((s["start"], s["end"]) for s, r in zip(candidates, responses, strict=True)
                 if r.status_code == 201)
    assert won
    for (_, end), (start, _) in itertools.pairwise(won):
        assert end <= start, "overlapping bookings both succeeded"
    assert datetime.now(UTC) < won[0][0]
