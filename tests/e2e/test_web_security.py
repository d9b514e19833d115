"""The web UI's guard rails without a browser (decision 0066): every page carries a CSP
without inline script and is not cached; no page has an inline script or style; a form post
without the CSRF token of the browser's cookie is refused and changes nothing; a staff page
without a session sends the person to sign in."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.e2e.clinic_flow import open_slots, set_up_clinic


def test_pages_carry_a_strict_policy_and_no_inline_script(
        client: TestClient, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    for path in ("/", f"/times?service_id={ids['checkup']}", "/sign-in", "/staff"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:200])
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "frame-ancestors 'none'" in policy and page.headers["Cache-Control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), path
        assert not re.search(r"\sstyle=|<style", page.text), path


def test_a_form_post_without_the_csrf_token_is_refused_and_holds_nothing(
        client: TestClient, token_for: Any, project: Any) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[0]
    client.get("/")  # the browser gets its CSRF cookie
    form = {"slot_id": slot["id"], "service_id": ids["checkup"],
            "day": slot["clinic_local_start"][:10]}  # the clinic's day, as the page has it
    for token in ("", "forged"):
        refused = client.post("/hold", data={**form, "csrf": token}, follow_redirects=False)
        assert refused.status_code == 403 and "nothing was done" in refused.text
    assert slot["id"] in {s["id"] for s in open_slots(client, ids["checkup"])}  # still open
    held = client.post("/hold", data={**form, "csrf": client.cookies["clinic_csrf"]},
                       follow_redirects=False)
    assert held.status_code == 303 and held.headers["location"] == "/checkout"
    assert "clinic_hold" in client.cookies
    assert slot["id"] not in {s["id"] for s in open_slots(client, ids["checkup"])}


def test_over_plain_http_with_an_http_public_address_cookies_are_not_secure(
        client: TestClient) -> None:
    """The demo on http://127.0.0.1: a Secure cookie would never come back over HTTP (behind
    an HTTPS public address they are Secure: test_web_secure_cookies.py)."""
    answer = client.get("/")
    header = answer.headers["set-cookie"].lower()
    assert header.startswith("clinic_csrf=") and "httponly" in header
    assert "secure" not in header


def test_pages_for_a_signed_in_person_send_others_to_sign_in(client: TestClient) -> None:
    for path in ("/visits", "/consents"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
