"""The front desk and providers in a real browser: sign in with a staff token, the day and week
calendar (a booked visit, open time), time off that takes a time out of patient search, time
off that would strand a booked visit refused with the visit named, check in and complete;
every page checked by axe-core; the calendar's screenshot for the README (docs/ui/)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from domain.access import Role
from infra.wiring.container import Container
from tests.e2e.clinic_flow import EVERY_DAY, open_slots, set_up_clinic, sign_up
from tests.ui.conftest import PHONE, accessible, caught_up, new_page, shot


def _booked(client: TestClient, container: Container, token_for: Any) -> dict[str, Any]:
    """A clinic open 08:00 to 18:00 and one visit booked tomorrow or later (clinic time)."""
    ids = set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    slots = open_slots(client, ids["checkup"], limit=200)
    first_day = slots[0]["clinic_local_start"][:10]
    slot = next(s for s in slots if s["clinic_local_start"][:10] > first_day
                and s["clinic_local_start"][11:16] == "10:00")
    _, headers = sign_up(client, container, "ana@example.org")
    booked = client.post("/bookings", headers=headers, json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    caught_up(container)
    return {**ids, "slot": slot, "day": slot["clinic_local_start"][:10],
            "appointment": booked.json()["id"]}


def _sign_in(page: Page, token: dict[str, str]) -> None:
    page.goto("/staff")
    accessible(page, "staff sign-in")
    page.get_by_label("Staff token").fill(token["Authorization"].removeprefix("Bearer "))
    page.get_by_role("button", name="Sign in as staff").click()
    expect(page.get_by_role("navigation", name="Staff")).to_be_visible()


def _day(page: Page, day: str, view: str = "day") -> None:
    page.get_by_label("Day", exact=True).fill(day)
    page.get_by_label("Show").select_option(view)
    page.get_by_role("button", name="Show", exact=True).click()


def _open_on(client: TestClient, ids: dict[str, Any], day: str) -> list[dict[str, Any]]:
    page = client.get("/slots", params={
        "provider_id": ids["provider"], "start_from": f"{day}T00:00:00-05:00",
        "start_to": f"{day}T23:59:59-05:00", "limit": 200})
    assert page.status_code == 200, page.text
    slots: list[dict[str, Any]] = page.json()["slots"]
    return slots


def test_a_provider_sees_the_day_takes_time_off_and_is_warned_of_a_stranded_visit(
        page: Page, browser: Browser, live: str, client: TestClient, container: Container,
        token_for: Any) -> None:
    ids = _booked(client, container, token_for)
    # A patient is choosing 1 PM; the provider is off from 4 PM (the admin recorded it).
    held = next(s for s in open_slots(client, ids["checkup"], limit=200)
                if s["clinic_local_start"].startswith(f"{ids['day']}T13:00"))
    assert client.post("/holds", json={"slot_id": held["id"]}).status_code == 201
    _sign_in(page, token_for(Role.provider, ids["provider"], clinics=[ids["clinic"]]))
    page.get_by_role("link", name="Hours and time off").click()
    page.get_by_label("Date").fill(ids["day"])
    page.get_by_label("From").fill("16:00")
    page.get_by_label("Until").fill("18:00")
    page.get_by_role("button", name="Add time off").click()
    expect(page.get_by_text(f"{ids['day']}: 16:00\u201318:00")).to_be_visible()
    caught_up(container)
    page.get_by_role("link", name="Day", exact=True).click()
    _day(page, ids["day"])
    agenda = page.locator(".agenda")
    visit = agenda.locator(".entry.booked")
    expect(visit).to_contain_text("Checkup")
    expect(visit).to_contain_text("Ana Lima")
    expect(visit).to_contain_text("10:00 AM")
    expect(agenda.locator(".entry.open").first).to_contain_text("Open")
    expect(agenda.locator(".entry.held")).to_contain_text("1:00 PM")
    expect(agenda.locator(".entry.blocked")).to_contain_text("4:00 PM")
    expect(page.get_by_text("Hours: 08:00\u201316:00")).to_be_visible()
    accessible(page, "day calendar")
    shot(page, "5-provider-calendar")

    _day(page, ids["day"], "week")
    expect(page.locator(".week .day")).to_have_count(7)
    expect(page.locator(".week .entry.booked")).to_contain_text("Checkup")
    accessible(page, "week calendar")

    # Time off on a later day: its times leave patient search.
    later = (date.fromisoformat(ids["day"]) + timedelta(days=1)).isoformat()
    assert _open_on(client, ids, later)
    page.get_by_role("link", name="Hours and time off").click()
    accessible(page, "hours")
    page.get_by_label("Date").fill(later)
    page.get_by_role("button", name="Add time off").click()
    expect(page.get_by_role("status").filter(has_text="Time off is saved")).to_be_visible()
    expect(page.get_by_text(f"{later}: the whole day")).to_be_visible()
    caught_up(container)
    assert _open_on(client, ids, later) == []
    patient = new_page(browser, live)
    patient.goto(f"/times?service_id={ids['checkup']}&day={later}")
    expect(patient.get_by_text("No open times that day.")).to_be_visible()
    accessible(patient, "patient's times after time off: none open")
    patient.context.close()

    # Time off over the booked visit: refused, the visit named.
    page.get_by_label("Date").fill(ids["day"])
    page.get_by_label("From").fill("09:30")
    page.get_by_label("Until").fill("11:00")
    page.get_by_role("button", name="Add time off").click()
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("Not saved: 1 booked visit would be left outside")
    expect(warning).to_contain_text("10:00 AM")
    expect(warning).to_contain_text("Checkup with Ana Lima")
    accessible(page, "hours with a stranded visit")
    assert _open_on(client, ids, ids["day"])  # nothing changed on that day

    # Weekly hours that start later leave the visit out as well: refused the same way.
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
        page.get_by_label(day.capitalize()).fill("11:00-18:00")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.get_by_role("alert")).to_contain_text("Checkup with Ana Lima")
    expect(page.get_by_label("Monday")).to_have_value("11:00-18:00")  # as entered, to fix

    # Longer hours strand nothing: saved. Time off removed: that day is offered again.
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
        page.get_by_label(day.capitalize()).fill("07:00-12:00, 13:00-19:00")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.get_by_role("status").filter(has_text="weekly hours are saved")).to_be_visible()
    expect(page.get_by_label("Friday")).to_have_value("07:00-12:00, 13:00-19:00")
    page.get_by_role("button", name=f"Remove the time off on {later}").click()
    expect(page.get_by_role("status").filter(has_text="Time off is removed")).to_be_visible()
    caught_up(container)
    assert _open_on(client, ids, later)
    accessible(page, "hours after saving")


def test_the_front_desk_checks_a_patient_in_and_completes_the_visit(
        browser: Browser, live: str, client: TestClient, container: Container,
        token_for: Any) -> None:
    ids = _booked(client, container, token_for)
    page = new_page(browser, live, viewport=PHONE)
    _sign_in(page, token_for(Role.front_desk, "fd-1", clinics=[ids["clinic"]]))
    _day(page, ids["day"])
    visit = page.locator(".agenda .entry.booked")
    expect(visit).to_contain_text("Booked")
    accessible(page, "front desk day on a phone")
    visit.get_by_role("button", name="Check in").click()
    expect(page.get_by_role("status").filter(has_text="Checked in.")).to_be_visible()
    expect(page.locator(".agenda .entry.booked")).to_contain_text("Checked in")
    page.locator(".agenda .entry.booked").get_by_role("button", name="Complete").click()
    expect(page.get_by_role("status").filter(has_text="Marked as completed.")).to_be_visible()
    expect(page.locator(".agenda .entry.booked")).to_contain_text("Completed")
    accessible(page, "front desk after completing")

    # Two more visits that day: one cancelled for the patient, one handed to Dr. Two.
    admin = token_for(Role.admin)
    other = client.post("/providers", headers=admin, json={
        "display_name": "Dr. Two", "clinic_ids": [ids["clinic"]],
        "service_ids": [ids["checkup"]]}).json()
    assert client.put(f"/providers/{other['id']}/availability/{ids['clinic']}", headers=admin,
                      json={"weekly": {d: [["08:00", "18:00"]] for d in EVERY_DAY},
                            "granularity_minutes": 30, "horizon_days": 5}).status_code == 200
    _, headers = sign_up(client, container, "bo@example.org", given_name="Bo",
                         family_name="Reyes")
    for at in ("11:00", "12:00"):
        slot = next(s for s in open_slots(client, ids["checkup"], limit=200)
                    if s["clinic_local_start"].startswith(f"{ids['day']}T{at}")
                    and s["provider"]["id"] == ids["provider"])
        assert client.post("/bookings", headers=headers,
                           json={"slot_id": slot["id"]}).status_code == 201
    caught_up(container)
    page.reload()
    eleven = page.locator(".agenda .entry.booked").filter(has_text="11:00 AM")
    expect(eleven).to_contain_text("Bo Reyes")
    eleven.get_by_role("button", name="Cancel for the patient").click()
    expect(page.get_by_role("status").filter(has_text="Cancelled for the patient.")
           ).to_be_visible()
    expect(page.locator(".agenda .entry.booked").filter(has_text="11:00 AM")
           ).to_contain_text("Cancelled")
    noon = page.locator(".agenda .entry.booked").filter(has_text="12:00 PM")
    noon.get_by_label("Hand off to").select_option(label="Dr. Two")
    noon.get_by_role("button", name="Hand off").click()
    expect(page.get_by_role("status").filter(has_text="Handed off.")).to_be_visible()
    expect(page.locator(".agenda .entry.booked").filter(has_text="12:00 PM")).to_have_count(0)
    page.get_by_label("Provider").select_option(label="Dr. Two")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator(".agenda .entry.booked").filter(has_text="12:00 PM")
           ).to_contain_text("Bo Reyes")
    accessible(page, "front desk, the other provider's day")
    page.get_by_label("Provider").select_option(label="Every provider")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("every provider")
    one = page.locator("section.provider").filter(
        has=page.get_by_role("heading", name="Dr. One", level=2))
    two = page.locator("section.provider").filter(
        has=page.get_by_role("heading", name="Dr. Two", level=2))
    expect(one.locator(".entry.booked")).to_have_count(2)  # completed, cancelled
    expect(two.locator(".entry.booked")).to_contain_text("Bo Reyes")
    accessible(page, "front desk, every provider's day")

    page.get_by_role("link", name="Hours and time off").click()
    expect(page.get_by_text("Only Dr. One or an administrator can change")).to_be_visible()
    accessible(page, "hours, read only")
    assert client.get(f"/bookings/{ids['appointment']}", headers=token_for(
        Role.front_desk, "fd-1", clinics=[ids["clinic"]])).json()["status"] == "fulfilled"
