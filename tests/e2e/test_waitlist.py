"""The waitlist over HTTP on real PostgreSQL and Redis: joining, listing and leaving with the
record-level access rules; a cancellation offered to the first matching patient only; an
expired offer moving on; accepting booking the time; patients who were erased or withdrew
consent passed over (docs/waitlist.md)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from commands.offers import offer_holder
from domain.access import Role
from domain.openings import Opening
from infra.wiring.container import Container
from infra.wiring.waitlist import build_matcher
from tests.delivery import deliver
from tests.e2e.clinic_flow import EVERY_DAY, open_slots, set_up_clinic, sign_up
from tests.e2e.waitlist_flow import entry, join, matching

_MINUTE = timedelta(minutes=1)


def _clinic(client: TestClient, token_for: Any, project: Any) -> tuple[dict[str, str],
                                                                       list[dict[str, Any]]]:
    ids = set_up_clinic(client, token_for)
    project()
    return ids, open_slots(client, ids["checkup"], limit=100)


def _waiting(client: TestClient, container: Container, service_id: str, until: str,
             *names: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Each named patient signs up and joins the waitlist for the service, in this order:
    their headers and entry."""
    waiting = []
    for name in names:
        _, headers = sign_up(client, container, f"{name}@example.org")
        waiting.append((headers, join(client, headers, service_id, until)))
    return waiting


def _book_and_cancel(client: TestClient, container: Container, slot: dict[str, Any],
                     email: str = "ana@example.org") -> str:
    _, headers = sign_up(client, container, email)
    booked = client.post("/bookings", headers=headers, json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    cancelled = client.post(f"/bookings/{booked.json()['id']}/cancel", headers=headers,
                            json={})
    assert cancelled.status_code == 200, cancelled.text
    return str(booked.json()["id"])


def test_a_patient_joins_lists_and_leaves_and_no_one_else_reaches_the_entry(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    ana, ana_headers = sign_up(client, container, "ana@example.org")
    _, ben_headers = sign_up(client, container, "ben@example.org")
    until = slots[-1]["end"]
    keyed = {**ana_headers, "Idempotency-Key": "join-1"}
    body = {"service_id": ids["checkup"], "clinic_ids": [ids["clinic"]], "not_after": until}
    first = client.post("/waitlist/entries", headers=keyed, json=body)
    again = client.post("/waitlist/entries", headers=keyed, json=body)
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["Idempotent-Replayed"] == "true"
    mine = first.json()
    assert mine["id"] == again.json()["id"] and mine["status"] == "waiting"
    assert mine["patient_id"] == ana and mine["priority"] == 0
    project()

    listed = client.get("/waitlist/entries", headers=ana_headers).json()
    assert [e["id"] for e in listed] == [mine["id"]]
    assert client.get("/waitlist/entries", headers=ben_headers).json() == []
    for path in (f"/waitlist/entries/{mine['id']}", f"/waitlist/entries?patient_id={ana}"):
        hidden = client.get(path, headers=ben_headers)
        assert hidden.status_code == 404 and hidden.json()["error"] == "not-found"
    assert client.delete(f"/waitlist/entries/{mine['id']}",
                         headers=ben_headers).status_code == 404

    here = token_for(Role.front_desk, "fd-1", clinics=[ids["clinic"]])
    elsewhere = token_for(Role.front_desk, "fd-2", clinics=[str(UUID(int=7))])
    assert client.get(f"/waitlist/entries/{mine['id']}", headers=here).status_code == 200
    assert client.get(f"/waitlist/entries/{mine['id']}", headers=elsewhere).status_code == 404
    urgency = {"priority": 5}
    assert client.put(f"/waitlist/entries/{mine['id']}/priority", headers=ana_headers,
                      json=urgency).status_code == 403
    raised = client.put(f"/waitlist/entries/{mine['id']}/priority", headers=here, json=urgency)
    assert raised.status_code == 200 and raised.json()["priority"] == 5

    left = client.delete(f"/waitlist/entries/{mine['id']}", headers=ana_headers)
    assert left.status_code == 200 and left.json()["status"] == "left"
    twice = client.delete(f"/waitlist/entries/{mine['id']}", headers=ana_headers)
    assert twice.status_code == 422 and twice.json()["error"] == "waitlist-entry-closed"
    project()
    assert entry(client, ana_headers, mine["id"])["status"] == "left"


def test_joining_needs_consent_a_future_window_and_a_service(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    _, unconsented = sign_up(client, container, "cai@example.org", consents=())
    refused = client.post("/waitlist/entries", headers=unconsented, json={
        "service_id": ids["checkup"], "not_after": slots[-1]["end"]})
    assert refused.status_code == 422 and refused.json()["error"] == "consent-required"
    _, headers = sign_up(client, container, "dee@example.org")
    past = client.post("/waitlist/entries", headers=headers, json={
        "service_id": ids["checkup"], "not_after": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422 and past.json()["error"] == "invalid-waitlist-entry"
    unknown = client.post("/waitlist/entries", headers=headers, json={
        "service_id": str(UUID(int=1)), "not_after": slots[-1]["end"]})
    assert unknown.status_code == 404


def test_a_cancellation_is_offered_to_the_first_matching_patient_who_books_it(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    freed = slots[30]
    until = slots[-1]["end"]
    _, ben = sign_up(client, container, "ben@example.org")
    _, cai = sign_up(client, container, "cai@example.org")
    _, dee = sign_up(client, container, "dee@example.org")
    _, eve = sign_up(client, container, "eve@example.org")
    other_service = join(client, cai, ids["long"], until)
    too_late = join(client, dee, ids["checkup"], freed["start"])  # must end before it
    first = join(client, ben, ids["checkup"], until, clinic_ids=[ids["clinic"]])
    second = join(client, eve, ids["checkup"], until)
    _book_and_cancel(client, container, freed)

    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
        offered = entry(client, ben, first["id"])
        assert offered["status"] == "offered" and offered["offer"]["slot_id"] == freed["id"]
        for headers, other in ((cai, other_service), (dee, too_late), (eve, second)):
            assert entry(client, headers, other["id"])["status"] == "waiting"
        assert offers.step().get("offered") is None  # one offer at a time

        deliver(container)
        assert container.mailbox is not None
        mail = [m for m in container.mailbox.messages(50) if m["to"] == "ben@example.org"]
        assert mail[0]["subject"] == "A time on your waitlist is free"
        assert f"/waitlist/{first['id']}/offer" in mail[0]["body"]  # the web page

        taken = client.post("/bookings", headers=eve, json={"slot_id": freed["id"]})
        assert taken.status_code == 409 and taken.json()["error"] == "slot-held"
        accept = {"offer_id": offered["offer"]["offer_id"]}
        booked = client.post(f"/waitlist/entries/{first['id']}/accept", headers=ben,
                             json=accept)
        assert booked.status_code == 201, booked.text
        assert booked.json()["slot_id"] == freed["id"]
        repeated = client.post(f"/waitlist/entries/{first['id']}/accept", headers=ben,
                               json=accept)
        assert repeated.status_code == 201 and repeated.json()["id"] == booked.json()["id"]
        assert offers.step() == {}
        done = entry(client, ben, first["id"])
        assert done["status"] == "booked" and done["appointment_id"] == booked.json()["id"]
        assert entry(client, eve, second["id"])["status"] == "waiting"


def test_clinical_urgency_goes_before_first_come(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    freed, until = slots[25], slots[-1]["end"]
    (ben, first), (eve, urgent) = _waiting(client, container, ids["checkup"], until,
                                           "ben", "eve")
    raised = client.put(f"/waitlist/entries/{urgent['id']}/priority",
                        headers=token_for(Role.provider, ids["provider"]), json={"priority": 3})
    assert raised.status_code == 404  # the entry names no provider: not this provider's
    raised = client.put(f"/waitlist/entries/{urgent['id']}/priority",
                        headers=token_for(Role.admin), json={"priority": 3})
    assert raised.status_code == 200, raised.text
    _book_and_cancel(client, container, freed)
    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
    assert entry(client, eve, urgent["id"])["status"] == "offered"
    assert entry(client, ben, first["id"])["status"] == "waiting"


def test_an_earlier_time_moves_the_later_visit_whose_time_goes_to_the_next_in_line(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    earlier, later, until = slots[20], slots[60], slots[-1]["end"]
    _, ben = sign_up(client, container, "ben@example.org")
    _, eve = sign_up(client, container, "eve@example.org")
    kept = client.post("/bookings", headers=ben, json={"slot_id": later["id"]}).json()
    sooner = join(client, ben, ids["checkup"], until, instead_of=kept["id"])
    only_earlier = datetime.fromisoformat(sooner["not_after"])
    assert only_earlier == datetime.fromisoformat(later["start"])
    anything = join(client, eve, ids["checkup"], until)
    _book_and_cancel(client, container, earlier)

    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
        offer = entry(client, ben, sooner["id"])["offer"]
        assert offer["slot_id"] == earlier["id"]
        moved = client.post(f"/waitlist/entries/{sooner['id']}/accept", headers=ben,
                            json={"offer_id": offer["offer_id"]})
        assert moved.status_code == 201, moved.text
        assert moved.json()["id"] == kept["id"] and moved.json()["slot_id"] == earlier["id"]
        assert offers.step() == {"offered": 1}  # the later time, freed by the move
        assert entry(client, eve, anything["id"])["offer"]["slot_id"] == later["id"]


def test_an_unanswered_offer_expires_and_goes_to_the_next_patient(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    freed, until = slots[40], slots[-1]["end"]
    (ben, first), (eve, second) = _waiting(client, container, ids["checkup"], until,
                                           "ben", "eve")
    _book_and_cancel(client, container, freed)

    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
        late = entry(client, ben, first["id"])["offer"]["offer_id"]
        offers.clock.ahead = container.settings.waitlist_offer_minutes * _MINUTE + _MINUTE
        assert offers.step() == {"expired": 1}
        assert offers.step() == {"offered": 1}
        assert entry(client, ben, first["id"])["status"] == "waiting"
        refused = client.post(f"/waitlist/entries/{first['id']}/accept", headers=ben,
                              json={"offer_id": late})
        assert refused.status_code == 409 and refused.json()["error"] == "offer-not-open"
        now_eve = entry(client, eve, second["id"])["offer"]
        assert now_eve["slot_id"] == freed["id"] and now_eve["offer_id"] != late
        booked = client.post(f"/waitlist/entries/{second['id']}/accept", headers=eve,
                             json={"offer_id": now_eve["offer_id"]})
        assert booked.status_code == 201, booked.text
    kinds = [type(e).__name__ for e in container.app.events.get(_only_opening(container))]
    assert kinds == ["Opened", "Offered", "OfferLapsed", "Offered", "Accepted"]


def test_a_hold_left_by_a_step_that_died_before_its_save_does_not_keep_the_time(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    freed, until = slots[45], slots[-1]["end"]
    [(ben, first)] = _waiting(client, container, ids["checkup"], until, "ben")
    _book_and_cancel(client, container, freed)
    # A matcher killed between its hold and its save: a waitlist hold no offer names, placed
    # (by its expiry) long enough ago.
    lasting = timedelta(minutes=container.settings.waitlist_offer_minutes)
    left = container.holds.place(UUID(freed["id"]), offer_holder(UUID(first["patient_id"])),
                                 "x", int((lasting - timedelta(minutes=2)).total_seconds() * 1000),
                                 20)
    assert left is not None
    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
    offer = entry(client, ben, first["id"])["offer"]
    held = container.holds.holding(UUID(freed["id"]))
    assert held is not None and held[0].hold_id != left.hold_id
    assert offer["slot_id"] == freed["id"]


def test_patients_erased_or_without_consent_are_passed_over(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    freed, until = slots[35], slots[-1]["end"]
    fay, fay_headers = sign_up(client, container, "fay@example.org")
    gus, gus_headers = sign_up(client, container, "gus@example.org")
    _, hal = sign_up(client, container, "hal@example.org")
    withdrawn = join(client, fay_headers, ids["checkup"], until)
    erased = join(client, gus_headers, ids["checkup"], until)
    third = join(client, hal, ids["checkup"], until)
    revoked = client.delete(f"/patients/{fay}/consents/treatment", headers=fay_headers)
    assert revoked.status_code == 200, revoked.text
    gone = client.post(f"/admin/patients/{gus}/erase", headers=token_for(Role.admin),
                       json={"basis": "patient-request"})
    assert gone.status_code == 200, gone.text
    _book_and_cancel(client, container, freed)

    with matching(container.settings, project) as offers:
        assert offers.step() == {"offered": 1}
    assert entry(client, hal, third["id"])["status"] == "offered"
    assert entry(client, fay_headers, withdrawn["id"])["status"] == "waiting"
    staff = token_for(Role.admin)
    assert entry(client, staff, erased["id"])["status"] == "erased"
    opening = _only_opening(container)
    skipped = [e for e in container.app.events.get(opening)
               if isinstance(e, Opening.Skipped)]
    assert [(str(e.entry_id), e.cause) for e in skipped] == [
        (withdrawn["id"], "consent-withdrawn")]


def _only_opening(container: Container) -> UUID:
    with container.pool.connection() as conn:
        rows = conn.execute("SELECT opening_id FROM waitlist_openings").fetchall()
    assert len(rows) == 1, rows
    opening_id: UUID = rows[0][0]
    return opening_id


def test_new_hours_are_offered_to_the_patients_waiting_for_such_a_time(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    """Hours published after patients joined open time for them: the first in line gets the
    soonest suitable new time, the next the one after (one opening per time)."""
    ids = set_up_clinic(client, token_for, hours=("09:00", "10:00"))
    project()
    slots = open_slots(client, ids["checkup"], limit=100)
    morning = datetime.fromisoformat(slots[len(slots) // 2]["start"])  # 09:00 or 09:30 local
    afternoon = morning.replace(minute=0) + timedelta(hours=4)  # 13:00 local, no hours yet
    until = (afternoon + timedelta(hours=4)).isoformat()
    _, ben = sign_up(client, container, "ben@example.org")
    _, dee = sign_up(client, container, "dee@example.org")
    ben_entry = join(client, ben, ids["checkup"], until, not_before=afternoon.isoformat())
    dee_entry = join(client, dee, ids["checkup"], until, not_before=afternoon.isoformat())

    with matching(container.settings, project) as offers:
        assert offers.step() == {}  # the hours published so far have nothing in the window
        admin = token_for(Role.admin)
        changed = client.put(
            f"/providers/{ids['provider']}/availability/{ids['clinic']}", headers=admin,
            json={"weekly": {d: [["09:00", "10:00"], ["13:00", "17:00"]] for d in EVERY_DAY},
                  "granularity_minutes": 30, "horizon_days": 5, "min_notice_minutes": 60})
        assert changed.status_code == 200, changed.text
        assert offers.step() == {"hours-opened": 2}
        assert offers.step() == {"offered": 2}
        got = {name: entry(client, headers, waiting["id"])["offer"]
               for name, headers, waiting in (("ben", ben, ben_entry), ("dee", dee, dee_entry))}
        assert datetime.fromisoformat(got["ben"]["start"]) == afternoon
        assert datetime.fromisoformat(got["dee"]["start"]) == afternoon + timedelta(minutes=30)
        booked = client.post(f"/waitlist/entries/{ben_entry['id']}/accept", headers=ben,
                             json={"offer_id": got["ben"]["offer_id"]})
        assert booked.status_code == 201, booked.text
        assert offers.step() == {}  # the same change is not looked at twice


def test_an_entry_expires_at_the_end_of_its_window_and_is_offered_nothing_after(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    soon, later = slots[5], slots[60]
    [(ben, short)] = _waiting(client, container, ids["checkup"], soon["end"], "ben")
    [(eve, long)] = _waiting(client, container, ids["checkup"], later["end"], "eve")
    with matching(container.settings, project) as offers:
        assert offers.step() == {}  # nothing freed, no window over
        offers.clock.ahead = datetime.fromisoformat(soon["end"]) - datetime.now(
            datetime.fromisoformat(soon["end"]).tzinfo) + _MINUTE
        assert offers.step() == {"entry-expired": 1}
        assert entry(client, ben, short["id"])["status"] == "expired"
        assert entry(client, eve, long["id"])["status"] == "waiting"
        assert offers.step() == {}  # once
        _book_and_cancel(client, container, later)
        assert offers.step() == {"offered": 1}
        assert entry(client, eve, long["id"])["offer"]["slot_id"] == later["id"]
        assert entry(client, ben, short["id"]).get("offer") is None
    left = client.delete(f"/waitlist/entries/{short['id']}", headers=ben)
    assert left.status_code in (404, 409, 422), left.text  # an expired entry stays expired
    assert entry(client, ben, short["id"])["status"] == "expired"


def test_the_running_matcher_wakes_when_freed_time_is_recorded_not_on_its_clock(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    ids, slots = _clinic(client, token_for, project)
    freed = slots[30]
    [(ben, waiting)] = _waiting(client, container, ids["checkup"], slots[-1]["end"], "ben")
    matcher, resources = build_matcher(container.settings, every=600.0)  # its clock: 10 min
    worker = threading.Thread(target=matcher.run_forever, daemon=True)
    worker.start()
    try:
        project()
        time.sleep(0.5)  # the first pass (nothing to offer) is over; it waits on its clock
        _book_and_cancel(client, container, freed)
        project()  # the waitlist read model records the freed time: NOTIFY at its commit
        deadline = time.monotonic() + 30
        while entry(client, ben, waiting["id"])["status"] != "offered":
            assert time.monotonic() < deadline, "the matcher slept through the freed time"
            time.sleep(0.1)
            project()  # the offer, once made, into the waitlist read model
        assert entry(client, ben, waiting["id"])["offer"]["slot_id"] == freed["id"]
    finally:
        matcher.stop()
        worker.join(timeout=5)
        for resource in resources:
            resource.close()
    assert not worker.is_alive()  # a stop is seen within a second, whatever its clock says
