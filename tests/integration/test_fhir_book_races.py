"""Twenty FHIR clients $book overlapping slots of one provider at once, against `clinic
serve`: exactly one wins per overlap, the others get a 409 OperationOutcome naming the slot,
and nothing answers 5xx (the same use case as POST /bookings: one house, two doors)."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime
from typing import Any

import httpx

from infra.wiring.container import Container
from tests.builders import build_world
from tests.driver import drive
from tests.integration.test_booking_races import _patients, _slots


def _book(base: str, headers: dict[str, str], slot_id: str, patient: str) -> dict[str, Any]:
    resource = {"resourceType": "Appointment", "status": "pending",
                "slot": [{"reference": f"Slot/{slot_id}"}],
                "participant": [{"actor": {"reference": f"Patient/{patient}"},
                                 "status": "accepted"}]}
    return {"resourceType": "Parameters",
            "parameter": [{"name": "appointment-resource", "resource": resource}]}


def test_twenty_fhir_clients_overlapping_slots_one_winner_per_overlap(
        api: str, container: Container, project: Any) -> None:
    world = build_world(drive(container))
    project()
    candidates = (_slots(container, world.checkup, world.provider)[:10]
                  + _slots(container, world.video, world.provider)[:10])
    patients = _patients(container, len(candidates))
    subjects = [container.tokens.verify(h["Authorization"].split()[1]).subject
                for h in patients]
    barrier = threading.Barrier(len(candidates))
    answers: list[httpx.Response] = [None] * len(candidates)  # type: ignore[list-item]

    def run(i: int) -> None:
        body = json.dumps(_book(api, patients[i], candidates[i]["id"], subjects[i]))
        with httpx.Client(base_url=api, timeout=30) as client:
            barrier.wait()
            answers[i] = client.post("/fhir/R4/Appointment/$book", content=body, headers={
                **patients[i], "content-type": "application/fhir+json"})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(candidates))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code in (201, 409) for a in answers), [
        (a.status_code, a.text[:300]) for a in answers if a.status_code not in (201, 409)]
    won = sorted((s["start"], s["end"]) for s, a in zip(candidates, answers, strict=True)
                 if a.status_code == 201)
    assert won
    for (_, end), (start, _) in itertools.pairwise(won):
        assert end <= start, "overlapping bookings both succeeded"
    lost = [(s["start"], s["end"]) for s, a in zip(candidates, answers, strict=True)
            if a.status_code == 409]
    # Exactly one winner per overlap: every loser lost to a winner whose time overlaps its
    # own (never to a conflict that is not there), so no free time was refused.
    for start, end in lost:
        assert any(w_start < end and start < w_end for w_start, w_end in won), (
            "refused although no winner overlaps", start, end, won)
    assert len(won) + len(lost) == len(candidates) and lost
    for slot, answer in zip(candidates, answers, strict=True):
        if answer.status_code == 409:
            outcome = answer.json()
            assert answer.headers["content-type"].startswith("application/fhir+json")
            assert outcome["resourceType"] == "OperationOutcome"
            assert f"Slot/{slot['id']}" in outcome["issue"][0]["diagnostics"]
    assert datetime.now(UTC) < won[0][0]
