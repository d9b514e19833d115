"""More of the patient's path in a real browser: the waitlist (join when nothing fits; a
cancellation offered to the waiting patient, who takes it), a hold that lapses after being
kept, and the whole booking done with the keyboard alone (axe cannot judge focus order)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from infra.settings import Settings
from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up
from tests.ui.conftest import accessible, caught_up, new_page, shot, tab_to


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


def test_a_cancelled_time_is_offered_to_the_patient_waiting_who_takes_it(
        browser: Browser, live: str, client: TestClient, container: Container,
        token_for: Any) -> None:
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

    take = ben.get_by_role("button", name="Take this time")
    for _ in range(40):  # the offer matcher runs every 2 s beside the app
        ben.goto("/visits")
        if take.count():
            break
        ben.wait_for_timeout(500)
    accessible(ben, "an offer")
    shot(ben, "8-waitlist-offer")
    take.click()
    expect(ben.get_by_role("heading", name="Your visit is booked")).to_be_visible()
    accessible(ben, "the visit taken from an offer")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Holds of ten seconds: long enough to keep, short enough to lapse in a test."""
    return settings.model_copy(update={"hold_ttl_seconds": 10})


@pytest.fixture
def quick_holds(container: Container) -> Iterator[Container]:
    assert container.settings.hold_ttl_seconds == 10
    yield container


def test_a_kept_hold_lapses_and_the_patient_is_told_what_to_do(
        page: Page, client: TestClient, quick_holds: Container, token_for: Any) -> None:
    container = quick_holds
    set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    sign_up(client, container, "cai@example.org")
    sign_in(page, container, "cai@example.org")
    page.goto("/")
    page.get_by_role("button", name="See open times").click()
    page.get_by_role("link", name="Later day").click()
    page.locator("button.time").first.click()
    warning = page.locator("#hold-warning")
    expect(warning).to_contain_text("Keep my time")  # under a minute left: warned at once
    accessible(page, "a hold about to lapse, warned")
    page.get_by_role("button", name="Keep my time").click()
    expect(page.locator("#countdown")).to_contain_text("left")
    expect(page.locator("#countdown")).to_have_text("(ended)", timeout=15_000)
    expect(warning).to_contain_text("Your hold has ended")
    page.get_by_role("button", name="Book this visit").click()
    expect(page.get_by_role("alert")).to_contain_text("your hold ran out")
    accessible(page, "a lapsed hold")


def test_the_whole_booking_with_the_keyboard_alone(
        page: Page, client: TestClient, container: Container, token_for: Any) -> None:
    set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    sign_up(client, container, "dee@example.org")
    page.goto("/")
    tab_to(page, page.get_by_role("button", name="See open times"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("link", name="Later day"))
    page.keyboard.press("Enter")
    tab_to(page, page.locator("button.time").first)
    page.keyboard.press("Enter")
    email = page.locator("#sign-in-email")
    tab_to(page, email)
    page.keyboard.type("dee@example.org")
    page.keyboard.press("Enter")
    code = page.get_by_label("Code")
    tab_to(page, code)
    page.keyboard.type(last_code(container, "dee@example.org"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Book this visit"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your visit is booked")).to_be_visible()
