"""A patient books in a real browser: search, hold (countdown, keep my time), register with
the email code, consent, confirm; the visit page; a time taken meanwhile explained in plain
words; every page checked by axe-core; screenshots for the README (docs/ui/)."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code, open_slots, set_up_clinic, sign_up
from tests.ui.conftest import PHONE, accessible, caught_up, new_page, shot


def _to_times(page: Page) -> None:
    page.goto("/")
    accessible(page, "start")
    page.get_by_label("Checkup").check()
    page.get_by_role("button", name="See open times").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("open times")


def test_a_new_patient_books_from_search_to_confirmation(
        page: Page, client: TestClient, container: Container, token_for: Any) -> None:
    set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    _to_times(page)
    page.get_by_role("link", name="Later day").click()
    accessible(page, "times")
    shot(page, "1-open-times")
    page.locator("button.time").first.click()

    expect(page.get_by_role("heading", name="We are holding this time for you")).to_be_visible()
    expect(page.locator("#countdown")).to_contain_text("left")
    page.get_by_role("button", name="Keep my time").click()
    expect(page.locator("#countdown")).to_contain_text("left")
    form = page.locator("#register-form")
    form.get_by_label("First name").fill("Rosa")
    form.get_by_label("Last name").fill("Park")
    form.get_by_label("Date of birth").fill("1985-02-03")
    form.get_by_label("Email").fill("rosa@example.org")
    accessible(page, "checkout")
    shot(page, "2-checkout")
    form.get_by_role("button", name="Email me a code").click()

    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    accessible(page, "the code step")
    page.get_by_label("Code").fill(last_code(container, "rosa@example.org"))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Book this visit").click()
    expect(page.get_by_role("heading", name="Before we book: your consent")).to_be_visible()
    accessible(page, "consent")
    page.get_by_label("I agree to the treatment policy above").check()
    page.get_by_role("button", name="I agree").click()
    page.get_by_label("What is the visit about?").fill("a sore knee")
    page.get_by_role("button", name="Book this visit").click()

    expect(page.get_by_role("heading", name="Your visit is booked")).to_be_visible()
    expect(page.get_by_text("Harbor")).to_be_visible()
    visit = UUID(re.search(r"/visits/([0-9a-f-]{36})", page.url).group(1))  # type: ignore[union-attr]
    booked = next(iter(container.app.events.get(visit)))
    assert booked.__meta__["channel"] == "ui"  # the door, for the analysts (decision 0058)
    expect(page.get_by_text("counts as a late cancellation")).to_be_visible()  # the cut-off
    accessible(page, "visit")
    shot(page, "3-booked")
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    assert b"BEGIN:VEVENT" in download.value.path().read_bytes()
    assert "sore knee" not in download.value.path().read_text()
    page.get_by_role("link", name="All my visits").click()
    expect(page.locator(".visits").get_by_text("Checkup")).to_be_visible()
    accessible(page, "visits")


def test_the_loser_of_a_race_for_a_time_is_told_in_plain_words(
        browser: Browser, live: str, client: TestClient, container: Container,
        token_for: Any) -> None:
    ids = set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    first, second = new_page(browser, live), new_page(browser, live, viewport=PHONE)
    for each in (first, second):
        _to_times(each)
        each.get_by_role("link", name="Later day").click()
    taken = first.locator("button.time").first
    taken_at = taken.inner_text()
    taken.click()
    expect(first.get_by_role("heading", name="We are holding this time for you")).to_be_visible()
    second.locator("button.time").first.click()  # the same time, a moment later
    expect(second.get_by_role("alert")).to_contain_text("Someone else is holding that time")
    expect(second.locator("button.time").first).not_to_have_text(taken_at)
    accessible(second, "times after losing a race")
    shot(second, "4-phone-time-taken", full_page=False)
    _, headers = sign_up(client, container, "other@example.org")
    assert open_slots(client, ids["checkup"])  # the rest are still open
    del headers
