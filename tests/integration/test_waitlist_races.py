"""Twenty waitlisted patients race to accept one freed time, against `clinic serve` on real
PostgreSQL and Redis: exactly one booking, the rest refused, nothing answers 5xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from commands.booking import BookingCreate
from commands.context import Actor
from commands.waitlist_models import WaitlistJoin
from domain.access import Role
from domain.waitlist import WaitlistEntry
from infra.wiring.container import Container
from tests.builders import build_world
from tests.driver import drive
from tests.e2e.waitlist_flow import bookable_slot_ids, matching
from tests.races import post_all_at_once


def _patient(container: Container, n: int) -> tuple[UUID, Actor]:
    patient_id = drive(container).ready_patient("Wait", f"Lister{n}", f"wait{n}@example.org")
    return patient_id, Actor(subject=str(patient_id), role=Role.patient)


def test_twenty_waitlisted_patients_accept_at_once_and_one_books(
        api: str, container: Container, project: Any) -> None:
    world = build_world(drive(container))
    project()
    [slot_id] = bookable_slot_ids(container, world.provider, world.checkup, 1, offset=5)
    use_cases = container.use_cases
    waiting = [_patient(container, n) for n in range(20)]
    entries = [use_cases.waitlist.join(WaitlistJoin(
        service_id=world.checkup, not_after=datetime.now(UTC) + timedelta(days=30)),
        actor).result.id for _, actor in waiting]
    _, leaving = _patient(container, 99)
    booked = use_cases.bookings.book(BookingCreate(slot_id=slot_id), leaving).result
    use_cases.bookings.cancel(booked.id, "", leaving)

    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
    first = container.app.get(WaitlistEntry, entries[0], "entry")
    assert first.offer is not None
    offer_id = str(first.offer.offer_id)
    tokens = [container.sessions.sign_in(patient_id).access_token for patient_id, _ in waiting]
    racers = [(token, str(entry), offer_id) for token, entry in zip(tokens, entries, strict=True)]
    racers += [(tokens[0], str(entries[0]), offer_id)] * 4  # the offered patient, clicking on

    answers = post_all_at_once(api, [
        (f"/waitlist/entries/{entry}/accept", {"Authorization": f"Bearer {token}"},
         {"offer_id": offer}) for token, entry, offer in racers])
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers]
    won = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(won) == 1, [a.status_code for a in answers]
    assert all(a.status_code == 409 for a in answers[1:20]), [a.text for a in answers[1:20]]
    project()
    with container.pool.connection() as conn:
        holders = conn.execute("SELECT patient_id FROM appointments WHERE slot_id = %s AND "
                               "status = 'booked'", (slot_id,)).fetchall()
    assert [row[0] for row in holders] == [waiting[0][0]]
    assert container.app.get(WaitlistEntry, entries[0], "entry").appointment_id == \
        UUID(won.pop())
