"""The compliance officer and the operator in a real browser: a booking's audit timeline
found by its id (the search POSTed, never in the address), and of one cancelled in the
browser, its freed time offered and taken from the waitlist; the event log's newest signed
checkpoint with its signature checked; an ingestion run's rejected rows with their reasons,
follower lag and SLO burn from /metrics, on a desktop and a 375 px phone; axe-core on every
page; screenshots for the README (docs/ui/)."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up
from tests.integration.ingest_support import EXAMPLES
from tests.ui.conftest import DESKTOP, PHONE, accessible, caught_up, shot
from tests.ui.waitlist_flow import a_cancelled_time_offered_and_taken


def _sign_in(page: Page, container: Container, path: str, role: Role, subject: str) -> None:
    page.goto(path)  # signed out: the staff sign-in, which comes back here
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    accessible(page, f"sign-in for {path}")
    page.get_by_label("Staff token").fill(container.tokens.issue(role, subject, 600))
    page.get_by_role("button", name="Sign in as staff").click()


def test_the_compliance_view_shows_the_timeline_of_a_booking(
        page: Page, client: TestClient, container: Container, token_for: Any) -> None:
    ids = set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    _, patient = sign_up(client, container, "lena@example.org", given_name="Lena")
    booked = client.post("/bookings", headers=patient, json={
        "slot_id": open_slots(client, ids["checkup"])[0]["id"], "reason": "a stiff neck"})
    assert booked.status_code == 201, booked.text
    visit = booked.json()["id"]
    caught_up(container)

    _sign_in(page, container, "/compliance", Role.compliance, "officer-7")
    expect(page.get_by_role("heading", name="Compliance", exact=True)).to_be_visible()
    integrity = page.locator("section", has=page.get_by_role(
        "heading", name="Integrity of the event log"))
    for _ in range(20):  # the audit_log follower signs its first checkpoint right away
        if "Signature valid" in integrity.inner_text():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(integrity).to_contain_text("Signature valid")
    expect(integrity).to_contain_text("clinic audit verify")
    expect(page.get_by_text("clinic audit export")).to_be_visible()
    accessible(page, "compliance")

    page.get_by_label("Search by").select_option("appointment")
    page.get_by_label("Id or actor").fill(visit)
    page.get_by_role("button", name="Show the timeline").click()
    expect(page.get_by_role("heading", name="Audit timeline")).to_be_visible()
    assert visit not in page.url  # POSTed: the search is not in the address
    timeline = page.locator("table.timeline")
    expect(timeline).to_contain_text("Appointment.Booked")
    expect(timeline).to_contain_text("booked an in-person visit")
    expect(page.get_by_role("heading", name="Consents in force when it was booked")
           ).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("stiff neck")  # no PHI without a purpose
    accessible(page, "compliance timeline")
    shot(page, "6-compliance-timeline")
    page.set_viewport_size(PHONE)  # the table scrolls in its own region, the page does not
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    accessible(page, "compliance timeline on a phone")
    page.set_viewport_size(DESKTOP)

    page.get_by_role("link", name="This record as it stands now").click()
    expect(page.get_by_role("heading", name="Appointment record")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("stiff neck")
    accessible(page, "compliance record")

    page.get_by_role("main").get_by_role("link", name="Compliance").click()
    page.get_by_label("Search by").select_option("actor")
    page.get_by_label("Id or actor").fill("nobody-at-all")
    page.get_by_role("button", name="Show the timeline").click()
    expect(page.get_by_text("Nothing recorded for this actor")).to_be_visible()

    page.goto("/ops")  # the compliance role is not the operator
    expect(page.get_by_role("alert")).to_contain_text("for the admin role")


def test_operations_shows_an_ingestion_run_with_its_rejected_rows(
        page: Page, client: TestClient, container: Container, token_for: Any) -> None:
    admin = token_for(Role.admin, "ops@clinic")
    body = (EXAMPLES / "clinics.csv").read_bytes() + \
        b"mars,Mars Base,1 Crater Rd,Olympus,MA,02110,US,Mars/Olympus,in_person,\n"
    run = client.post("/ingest/runs", headers=admin | {"Content-Type": "text/csv"},
                      content=body, params={"kind": "clinics", "source": "erp"})
    assert run.status_code == 201, run.text
    dead = _dead_delivery(container)
    caught_up(container)

    _sign_in(page, container, "/ops", Role.admin, "ops@clinic")
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
    rejected = page.get_by_role("table", name="Rejected rows: clinics from erp")
    expect(rejected).to_contain_text("Mars/Olympus")
    expect(rejected).to_contain_text("iana-time-zone")
    expect(rejected.get_by_role("cell", name="3", exact=True)).to_be_visible()  # the row
    lag = page.get_by_role("table", name="Each follower's position and lag")
    expect(lag).to_contain_text("slot_search")
    expect(page.get_by_role("table", name="Each SLO: requests, bad requests, burn rate")
           ).to_contain_text("Availability")
    expect(page.get_by_text("clinic notify --retry-dead-letters")).to_be_visible()
    dead_letters = page.get_by_role("table", name="Webhook deliveries that gave up")
    expect(dead_letters).to_contain_text("HTTP 503 from the partner")
    accessible(page, "operations")
    shot(page, "7-operations")

    page.get_by_role("link", name="(erp, clinics)").click()
    expect(page.get_by_role("heading", name="Ingestion run: clinics from erp")).to_be_visible()
    expect(page.get_by_role("table", name="Rejected rows and why")).to_contain_text(
        "Mars/Olympus")
    accessible(page, "ingestion run")

    page.get_by_role("main").get_by_role("link", name="Operations").click()
    page.get_by_role("button", name=f"Retry the VisitDischarged delivery {str(dead)[:8]}").click()
    expect(page.get_by_role("status").filter(has_text="pending again")).to_be_visible()
    expect(page.get_by_text("None: every webhook delivery was delivered")).to_be_visible()
    with container.pool.connection() as conn:
        assert conn.execute(f"SELECT status, requeued_by FROM {_deliveries(container)} WHERE "
                            "delivery_id = %s", (dead,)).fetchone() == ("pending", "ops@clinic")

    page.set_viewport_size(PHONE)
    page.goto("/ops")
    accessible(page, "operations on a phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _deliveries(container: Container) -> str:
    return f'"{container.settings.db_schema}".webhook_deliveries'


def _dead_delivery(container: Container) -> UUID:
    """A delivery the dispatcher gave up on (as `clinic webhooks` leaves one after its last
    attempt: tests/e2e/test_webhooks.py drives that part for real)."""
    delivery = uuid4()
    with container.pool.connection() as conn:
        conn.execute(f"INSERT INTO {_deliveries(container)} (delivery_id, message_id, "
                     "subscription_id, message_type, body, status, attempts, finished_at, "
                     "last_status, last_error) VALUES (%s, %s, %s, 'VisitDischarged', '{}', "
                     "'dead', 8, now(), 503, 'HTTP 503 from the partner')",
                     (delivery, uuid4(), uuid4()))
    return delivery


def test_the_compliance_view_shows_a_booking_cancelled_offered_and_taken_in_the_browser(
        browser: Browser, live: str, page: Page, client: TestClient, container: Container,
        token_for: Any) -> None:
    """The waitlist's path done in the browser (tests/ui/waitlist_flow.py), then read back by
    the compliance officer: the cancellation, the freed time offered, the offer taken."""
    done = a_cancelled_time_offered_and_taken(browser, live, client, container, token_for)
    caught_up(container)
    _sign_in(page, container, "/compliance", Role.compliance, "officer-8")
    timeline = page.locator("table.timeline")

    _search(page, "appointment", done.cancelled)
    expect(timeline).to_contain_text("Appointment.Booked")
    expect(timeline).to_contain_text("Appointment.Cancelled")
    expect(timeline.locator("tr", has_text="Appointment.Cancelled")).to_contain_text(
        "cancelled the visit")
    accessible(page, "compliance timeline of a cancelled booking")

    _search(page, "appointment", done.taken)
    expect(timeline.locator("tr", has_text="Appointment.Booked")).to_contain_text(
        "booked an in-person visit")
    expect(timeline.locator("tr", has_text="WaitlistEntry.Booked")).to_contain_text(
        f"booked visit {done.taken} from the waitlist")
    expect(timeline.locator("tr", has_text="Opening.Accepted")).to_contain_text(
        "booked the freed time")

    # The freed time's own record: opened by the cancellation, offered, accepted.
    timeline.locator("tr", has_text="Opening.Accepted").get_by_role(
        "link", name=re.compile("^Timeline of record")).click()
    expect(page.get_by_role("heading", name="Audit timeline")).to_be_visible()
    for event, says in (("Opening.Opened", "for the waitlist"),
                        ("Opening.Offered", "offered the freed time to waitlist entry"),
                        ("Opening.Accepted", "booked the freed time")):
        expect(timeline.locator("tr", has_text=event)).to_contain_text(says)
    accessible(page, "compliance timeline of the freed time")

    # The waiting patient's entry, back from the taken visit: joined, offered, booked.
    _search(page, "appointment", done.taken)
    timeline.locator("tr", has_text="WaitlistEntry.Booked").get_by_role(
        "link", name=re.compile("^Timeline of record")).click()
    for event, says in (("WaitlistEntry.Joined", "joined the waitlist"),
                        ("WaitlistEntry.Offered", "from the waitlist until"),
                        ("WaitlistEntry.Booked", f"booked visit {done.taken}")):
        expect(timeline.locator("tr", has_text=event)).to_contain_text(says)


def _search(page: Page, kind: str, term: str) -> None:
    page.goto("/compliance")
    page.get_by_label("Search by").select_option(kind)
    page.get_by_label("Id or actor").fill(term)
    page.get_by_role("button", name="Show the timeline").click()
    expect(page.get_by_role("heading", name="Audit timeline")).to_be_visible()
