"""A new patient books with the keyboard alone, from the first page to a booked visit: the
service chosen with the arrow keys, a time, "keep my time" on the hold, registration with
the email code from the development mailbox, consent, confirmation (axe cannot judge focus
order or whether every step is reachable without a mouse)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code, set_up_clinic
from tests.ui.conftest import caught_up, new_page, tab_to


def test_a_new_patient_books_from_the_first_page_with_the_keyboard_alone(
        browser: Browser, live: str, client: TestClient, container: Container,
        token_for: Any) -> None:
    set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    page = new_page(browser, live, locale="en-US", timezone_id="America/Denver")
    page.goto("/")

    tab_to(page, page.get_by_label("Checkup"))  # the group's checked choice
    page.keyboard.press("ArrowDown")  # the next service
    expect(page.get_by_label("Long visit")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="See open times"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Long visit: open times")
    tab_to(page, page.get_by_role("link", name="Later day"))
    page.keyboard.press("Enter")
    tab_to(page, page.locator("button.time").first)
    page.keyboard.press("Enter")

    hold = page.locator("#hold")
    expect(hold.get_by_role("heading", name="We are holding this time for you")).to_be_visible()
    expect(hold).to_contain_text("Long visit")
    held_until = hold.get_attribute("data-expires")
    tab_to(page, page.get_by_role("button", name="Keep my time"))
    page.keyboard.press("Enter")
    expect(hold).not_to_have_attribute("data-expires", held_until or "")  # kept: later
    expect(page.locator("#countdown")).to_contain_text("left")

    form = page.locator("#register-form")
    tab_to(page, form.get_by_label("First name"))
    page.keyboard.type("Eli")
    page.keyboard.press("Tab")
    page.keyboard.type("Moss")
    page.keyboard.press("Tab")
    page.keyboard.type("02031985")  # month, day, year: the date field's own segments
    expect(form.get_by_label("Date of birth")).to_have_value("1985-02-03")
    tab_to(page, form.get_by_label("Email"))  # past the date field's segments
    page.keyboard.type("eli@example.org")
    tab_to(page, form.get_by_role("button", name="Email me a code"))
    page.keyboard.press("Enter")

    code = page.get_by_label("Code")
    tab_to(page, code)
    page.keyboard.type(last_code(container, "eli@example.org"))
    page.keyboard.press("Enter")  # the form's own submit
    tab_to(page, page.get_by_role("button", name="Book this visit"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Before we book: your consent")).to_be_visible()
    agree = page.get_by_label("I agree to the treatment policy above")
    tab_to(page, agree)
    page.keyboard.press("Space")
    expect(agree).to_be_checked()
    tab_to(page, page.get_by_role("button", name="I agree"))
    page.keyboard.press("Enter")

    tab_to(page, page.get_by_label("What is the visit about?"))
    page.keyboard.type("a follow-up")
    tab_to(page, page.get_by_role("button", name="Book this visit"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your visit is booked")).to_be_visible()
    expect(page.get_by_text("Long visit").first).to_be_visible()
    page.context.close()
