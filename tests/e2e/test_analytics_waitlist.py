"""The analytics facts over the real doors: bookings through the JSON API record their door,
and a freed time booked by accepting a waitlist offer is marked and counted as such (so the
waitlist's effect on re-booking can be measured). FHIR's door: tests/e2e/test_fhir_booking.py."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from infra.wiring.container import Container
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up
from tests.e2e.waitlist_flow import entry, join, matching
from tests.integration.analytics_script import rows


def test_an_accepted_waitlist_offer_is_marked_and_counted(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"], limit=100)
    _, ana = sign_up(client, container, "ana@example.org")
    _, ben = sign_up(client, container, "ben@example.org")
    booked = client.post("/bookings", headers=ana, json={"slot_id": slots[30]["id"]})
    assert booked.status_code == 201, booked.text
    cancelled = client.post(f"/bookings/{booked.json()['id']}/cancel", headers=ana, json={})
    assert cancelled.status_code == 200, cancelled.text
    waiting = join(client, ben, ids["checkup"], slots[-1]["end"])

    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
        offer = entry(client, ben, waiting["id"])["offer"]
        accepted = client.post(f"/waitlist/entries/{waiting['id']}/accept", headers=ben,
                               json={"offer_id": offer["offer_id"]})
        assert accepted.status_code == 201, accepted.text
        project()

    facts = rows(container, """
        SELECT appointment_id::text, status, booking_channel, booked_by_role,
               cancelled_by_role, waitlist_offer_at IS NOT NULL
        FROM "{a}".v1_appointment_facts""")
    assert sorted(facts) == sorted([
        (booked.json()["id"], "cancelled", "api", "patient", "patient", False),
        (accepted.json()["id"], "booked", "api", "patient", None, True),
    ])
    supply = rows(container, """
        SELECT booked, freed_by_cancellation, freed_by_reschedule, rebooked, waitlist_booked
        FROM "{a}".v1_slot_supply""")
    assert supply == [(2, 1, 0, 1, 1)]
