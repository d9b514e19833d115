"""Staff sign in with their clinic account in a real browser: the authorization code flow with
PKCE against a real Keycloak (tests/harness/keycloak.py), back to the staff pages with the
provider's token in the session; a flow whose state does not match signs no one in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from infra.settings import Settings
from infra.wiring.container import Container
from tests.e2e.clinic_flow import set_up_clinic
from tests.harness.keycloak import AUDIENCE, PASSWORD, Keycloak, keycloak_server
from tests.harness.servers import temporary_folder
from tests.ui.conftest import accessible, caught_up


@pytest.fixture(scope="module")
def keycloak() -> Iterator[Keycloak]:
    with temporary_folder("clinic-keycloak-") as folder, keycloak_server(Path(folder)) as kc:
        yield kc


@pytest.fixture
def settings(settings: Settings, keycloak: Keycloak) -> Settings:
    return settings.model_copy(update={
        "oidc_issuer": keycloak.issuer, "oidc_audience": AUDIENCE,
        "oidc_role_map": "clinic-desk=front_desk,clinic-ops=admin,doctor=provider"})


def test_the_front_desk_signs_in_with_their_clinic_account(
        page: Page, client: TestClient, container: Container, token_for: Any,
        keycloak: Keycloak) -> None:
    ids = set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    keycloak.add_user("desk1", "clinic-desk", {"clinics": [ids["clinic"]]})
    page.goto("/staff")
    accessible(page, "staff sign-in with an identity provider")
    page.get_by_role("link", name="Sign in with your clinic account").click()
    _sign_in_at_the_provider(page, "desk1")
    expect(page.get_by_text("Dr. One").first).to_be_visible()
    session = next(c for c in page.context.cookies() if c["name"] == "clinic_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"


def test_a_callback_whose_state_does_not_match_signs_no_one_in(page: Page) -> None:
    page.goto("/staff/oidc/callback?code=stolen&state=not-yours")
    expect(page.get_by_role("alert").first).to_contain_text("did not complete")
    assert not [c for c in page.context.cookies() if c["name"] == "clinic_session"]


def test_a_lapsed_session_is_renewed_with_the_refresh_token_until_the_role_is_removed(
        page: Page, client: TestClient, container: Container, token_for: Any,
        keycloak: Keycloak) -> None:
    ids = set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    user = keycloak.add_user("desk2", "clinic-desk", {"clinics": [ids["clinic"]]})
    page.goto("/staff/oidc")
    _sign_in_at_the_provider(page, "desk2")
    cookies = {c["name"]: c for c in page.context.cookies()}
    refresh = cookies["clinic_staff_refresh"]
    assert refresh["httpOnly"] and refresh["sameSite"] == "Strict"
    first = cookies["clinic_session"]["value"]

    page.context.clear_cookies(name="clinic_session")  # the access token's cookie lapsed
    page.reload()
    expect(page).to_have_url(re.compile(r"/staff/calendar"))
    expect(page.get_by_text("Dr. One").first).to_be_visible()
    renewed = {c["name"]: c["value"] for c in page.context.cookies()}
    assert renewed["clinic_session"] != first  # a new access token from the provider

    keycloak.revoke(user, "clinic-desk")  # the administrator removes the role
    page.context.clear_cookies(name="clinic_session")
    page.reload()
    # The provider still renews the session, but its token holds no staff role: the staff
    # sign-in page, not the calendar.
    expect(page).to_have_url(re.compile(r"/staff(\?|$)"))


def test_signing_out_forgets_the_refresh_token(
        page: Page, client: TestClient, container: Container, token_for: Any,
        keycloak: Keycloak) -> None:
    ids = set_up_clinic(client, token_for, hours=("08:00", "18:00"))
    caught_up(container)
    keycloak.add_user("desk3", "clinic-desk", {"clinics": [ids["clinic"]]})
    page.goto("/staff/oidc")
    _sign_in_at_the_provider(page, "desk3")
    page.get_by_role("button", name="Sign out").click()
    names = {c["name"] for c in page.context.cookies()}
    assert "clinic_session" not in names and "clinic_staff_refresh" not in names
    page.goto("/staff/calendar")
    expect(page).not_to_have_url(re.compile(r"/staff/calendar$"))


def _sign_in_at_the_provider(page: Page, username: str) -> None:
    """Keycloak's own sign-in form, then back to the staff calendar."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#kc-login").click()
    expect(page).to_have_url(re.compile(r"/staff/calendar"))
