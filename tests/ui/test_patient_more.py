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
from tests.e2e.clinic_flow import last_code, set_up_clinic, sign_up
from tests.ui.conftest import accessible, caught_up, tab_to
from tests.ui.waitlist_flow import a_cancelled_time_offered_and_taken, sign_in


def test_a_cancelled_time_is_offered_to_the_patient_waiting_who_takes_it(
        browser: Browser, live: str, client: TestClient, container: Container,
        token_for: Any) -> None:
    """The path and its checks: tests/ui/waitlist_flow.py (the compliance view reads it too)."""
    done = a_cancelled_time_offered_and_taken(browser, live, client, container, token_for,
                                              screenshot=True)
    assert done.taken != done.cancelled


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
