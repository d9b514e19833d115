"""Email squatting (issue "Hardening", item 8): whoever proves control of an address (verifies
the code) ends up with the details they registered, not someone else's; registrations never
verified expire and the retention job erases them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from commands.context import Actor
from domain.access import Role
from domain.patients import Patient
from infra.wiring.container import Container
from tests.e2e.clinic_flow import last_code

EMAIL = "owner@example.org"


def _register(client: TestClient, given: str, family: str, birth: str) -> str:
    answer = client.post("/patients", json={"given_name": given, "family_name": family,
                                            "birth_date": birth, "email": EMAIL})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["patient_id"])


def test_the_person_who_verifies_the_address_gets_their_own_details(
        client: TestClient, container: Container) -> None:
    squatter = _register(client, "Mallory", "Fake", "1970-01-01")
    owner = _register(client, "Olivia", "Owner", "1988-08-08")
    assert owner != squatter  # the unproven address went to the newer registration

    code = last_code(container, EMAIL)
    stale = client.post("/auth/verify", json={"email": EMAIL, "code": code,
                                              "patient_id": squatter})
    assert stale.status_code == 401  # the squatter's registration lost the address
    verified = client.post("/auth/verify", json={"email": EMAIL, "code": code,
                                                 "patient_id": owner})
    assert verified.status_code == 200, verified.text
    headers = {"Authorization": f"Bearer {verified.json()['access_token']}"}
    profile = client.get(f"/patients/{owner}", headers=headers).json()
    assert (profile["given_name"], profile["family_name"], profile["birth_date"]) == (
        "Olivia", "Owner", "1988-08-08")

    # Once proven, the address stays its owner's: a later registration changes nothing.
    assert _register(client, "Mallory", "Again", "1970-01-01") == owner
    again = client.get(f"/patients/{owner}", headers=headers).json()
    assert again["given_name"] == "Olivia" and again["email_verified"] is True


def test_registrations_never_verified_are_erased_by_retention_after_a_week(
        client: TestClient, container: Container, project: Callable[[], int]) -> None:
    squatter = _register(client, "Mallory", "Fake", "1970-01-01")
    owner = _register(client, "Olivia", "Owner", "1988-08-08")
    verified = client.post("/auth/verify", json={
        "email": EMAIL, "code": last_code(container, EMAIL), "patient_id": owner})
    assert verified.status_code == 200
    abandoned = client.post("/patients", json={
        "given_name": "Sam", "family_name": "Gone", "birth_date": "1990-01-01",
        "email": "abandoned@example.org"}).json()["patient_id"]
    project()
    retention, operator = container.use_cases.retention, Actor("ops", Role.admin)
    now = datetime.now(UTC)
    assert retention.run(operator, now + timedelta(days=6), dry_run=True).candidates == []
    week_later = retention.run(operator, now + timedelta(days=8), dry_run=False)
    assert sorted(map(str, week_later.candidates)) == sorted([squatter, abandoned])
    patients: dict[Any, Patient] = container.app.get_many(*week_later.candidates)
    assert all(p.erased for p in patients.values())
    assert not container.app.get(Patient, UUID(owner), "patient").erased


def test_a_contested_address_is_confirmed_only_with_the_registrations_id(
        client: TestClient, container: Container) -> None:
    """The squatter registers again after the owner: a plain sign-in with the newest code
    would confirm the squatter's details, so the first sign-in must name the registration."""
    owner = _register(client, "Olivia", "Owner", "1988-08-08")
    squatter = _register(client, "Mallory", "Fake", "1970-01-01")  # took the address back
    code = last_code(container, EMAIL)  # the owner receives the squatter's code too
    unpinned = client.post("/auth/verify", json={"email": EMAIL, "code": code})
    assert unpinned.status_code == 422
    assert unpinned.json()["error"] == "registration-id-required"
    pinned = client.post("/auth/verify", json={"email": EMAIL, "code": code,
                                               "patient_id": owner})
    assert pinned.status_code == 401  # the owner's registration lost the address: register again
    owner = _register(client, "Olivia", "Owner", "1988-08-08")
    verified = client.post("/auth/verify", json={
        "email": EMAIL, "code": last_code(container, EMAIL), "patient_id": owner})
    assert verified.status_code == 200 and verified.json()["patient_id"] == owner != squatter


def test_an_established_patients_new_address_cannot_be_taken_over(
        client: TestClient, container: Container) -> None:
    """A verified patient who changes their address is not a squatter's to displace while
    the new address awaits its code."""
    old = "olivia.old@example.org"
    first = client.post("/patients", json={"given_name": "Olivia", "family_name": "Owner",
                                           "birth_date": "1988-08-08", "email": old})
    owner = first.json()["patient_id"]
    token = client.post("/auth/verify", json={"email": old, "code": last_code(container, old),
                                              "patient_id": owner}).json()["access_token"]
    changed = client.put(f"/patients/{owner}/contact", json={"email": EMAIL},
                         headers={"Authorization": f"Bearer {token}"})
    assert changed.status_code == 200 and changed.json()["email_verified"] is False
    assert _register(client, "Mallory", "Fake", "1970-01-01") == owner  # not taken over
