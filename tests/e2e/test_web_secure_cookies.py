"""Behind a proxy that ends TLS (nginx, an ingress) the app sees plain HTTP, yet the browser
is on HTTPS: with an https CLINIC_PUBLIC_URL every cookie the pages set — the CSRF token,
the sign-in in progress, the session's bearer — is Secure as well as HttpOnly."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": "https://clinic.example.org"})


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie of an answer: its name -> its attributes (lower-case)."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            found[name] = {key: morsel[key] for key in ("secure", "httponly", "samesite")}
    return found


def test_cookies_are_secure_when_the_public_address_is_https_over_plain_http(
        client: TestClient, container: Container) -> None:
    assert str(client.base_url).startswith("http://")  # the proxy forwarded plain HTTP
    first = client.get("/")
    csrf = first.cookies["clinic_csrf"]
    assert set_cookies(first)["clinic_csrf"] == {
        "secure": True, "httponly": True, "samesite": "strict"}
    # A browser on HTTPS sends them back; this client is on HTTP, so they go by hand.
    email = "secure.cookie@example.org"
    registered = client.post("/register", follow_redirects=False, data={
        "csrf": csrf, "given_name": "Ana", "family_name": "Lima", "birth_date": "1990-04-01",
        "email": email}, headers={"Cookie": f"clinic_csrf={csrf}"})
    assert registered.status_code == 303, registered.text[:300]
    signing_in = set_cookies(registered)["clinic_sign_in"]
    assert signing_in["secure"] is True and signing_in["httponly"] is True
    cookie = SimpleCookie()
    cookie.load(registered.headers["set-cookie"])
    coded = client.post("/code", follow_redirects=False, data={
        "csrf": csrf, "code": last_code(container, email)}, headers={
        "Cookie": f"clinic_csrf={csrf}; clinic_sign_in={cookie['clinic_sign_in'].coded_value}"})
    assert coded.status_code == 303 and coded.headers["location"] == "/visits", coded.text[:300]
    session = set_cookies(coded)["clinic_session"]
    assert session == {"secure": True, "httponly": True, "samesite": "lax"}
