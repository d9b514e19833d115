"""The waitlist's path in a real browser, for the patient tests and the compliance view:
a patient waits, another cancels their visit, the freed time is offered to the one waiting,
who takes it; axe-core on each page on the way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up
from tests.ui.conftest import accessible, caught_up, new_page, shot


@dataclass(frozen=True)
class OfferTaken:
    ids: dict[str, str]  # set_up_clinic's
    cancelled: str  # the visit Ana cancelled in the browser: it freed the time
    taken: str  # the visit Ben booked by taking the offer in the browser


def sign_in(page: Page, container: Container, email: str, *, check: bool = False) -> None:
    """Sign in with the email code; `check`: axe-core on the sign-in page and the code step."""
    page.goto("/sign-in")
    if check:
        accessible(page, "sign-in")
    form = page.locator("#sign-in-form")
    form.get_by_label("Email").fill(email)
    form.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    if check:
        accessible(page, "sign-in, the code step")
    page.get_by_label("Code").fill(last_code(container, email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="My visits")).to_be_visible()


def a_cancelled_time_offered_and_taken(
        browser: Browser, live: str, client: TestClient, container: Container,
        token_for: Any, *, screenshot: bool = False) -> OfferTaken:
    ids = set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    slot = open_slots(client, ids["checkup"])[3]
    _, ana_api = sign_up(client, container, "ana@example.org")
    booked = client.post("/bookings", headers=ana_api, json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    sign_up(client, container, "ben@example.org")

    ben = new_page(browser, live)
    sign_in(ben, container, "ben@example.org", check=True)
    ben.goto(f"/waitlist/join?service_id={ids['checkup']}")
    accessible(ben, "join the waitlist")
    ben.get_by_role("button", name="Join the waitlist").click()
    expect(ben.get_by_role("status").filter(has_text="You are on the waitlist")).to_be_visible()

    ana = new_page(browser, live)
    sign_in(ana, container, "ana@example.org")
    ana.get_by_role("link", name="Checkup").first.click()
    expect(ana.get_by_role("heading", name="Your visit is booked")).to_be_visible()
    ana.get_by_role("button", name="Cancel this visit").click()
    expect(ana.get_by_role("heading", name="Your visit (cancelled)")).to_be_visible()
    accessible(ana, "a cancelled visit")
    ana.context.close()

    take = ben.get_by_role("button", name="Take this time")
    for _ in range(40):  # the offer matcher runs every 2 s beside the app
        ben.goto("/visits")
        if take.count():
            break
        ben.wait_for_timeout(500)
    accessible(ben, "an offer")
    if screenshot:
        shot(ben, "8-waitlist-offer")
    take.click()
    expect(ben.get_by_role("heading", name="Your visit is booked")).to_be_visible()
    accessible(ben, "the visit taken from an offer")
    taken = ben.url.split("/visits/")[1].split("?")[0]
    ben.context.close()
    return OfferTaken(ids, booked.json()["id"], taken)
