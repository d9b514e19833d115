"""A patient's path through the API, step by step, for the e2e tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from domain.access import Role
from infra.wiring.container import Container
from tests.delivery import deliver
from tests.driver import drive

ADDRESS = {"line": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "02110"}
EVERY_DAY = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def set_up_clinic(client: TestClient, token_for: Any, *, telehealth: bool = False,
                  hours: tuple[str, str] = ("00:00", "24:00")) -> dict[str, str]:
    admin = token_for(Role.admin)
    clinic = client.post("/clinics", headers=admin, json={
        "name": "Harbor", "address": ADDRESS, "time_zone": "America/New_York",
        "modalities": ["in_person", "telehealth"]}).json()
    checkup = client.post("/services", headers=admin, json={
        "name": "Checkup", "duration_minutes": 30, "modality": "in_person"}).json()
    long_visit = client.post("/services", headers=admin, json={
        "name": "Long visit", "duration_minutes": 60,
        "modality": "telehealth" if telehealth else "in_person"}).json()
    provider = client.post("/providers", headers=admin, json={
        "display_name": "Dr. One", "clinic_ids": [clinic["id"]],
        "service_ids": [checkup["id"], long_visit["id"]]}).json()
    response = client.put(
        f"/providers/{provider['id']}/availability/{clinic['id']}", headers=admin,
        json={"weekly": {d: [list(hours)] for d in EVERY_DAY}, "granularity_minutes": 30,
              "horizon_days": 5, "min_notice_minutes": 60})
    assert response.status_code == 200, response.text
    return {"clinic": clinic["id"], "checkup": checkup["id"], "long": long_visit["id"],
            "provider": provider["id"]}


def sign_up(client: TestClient, container: Container, email: str,
            consents: tuple[str, ...] = ("treatment",), *, given_name: str = "Ana",
            family_name: str = "Lima", phone: str | None = None,
            birth_date: str = "1990-04-01") -> tuple[str, dict[str, str]]:
    """Register, read the code from the development mailbox, verify, consent."""
    registered = client.post("/patients", json={
        "given_name": given_name, "family_name": family_name, "birth_date": birth_date,
        "email": email, "phone": phone})
    assert registered.status_code == 202, registered.text
    patient_id = registered.json()["patient_id"]
    token = client.post("/auth/verify", json={"email": email, "code": last_code(container, email)})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    policies = {p["purpose"]: p["version"] for p in client.get("/consent-policies").json()}
    for purpose in consents:
        granted = client.post(f"/patients/{patient_id}/consents", headers=headers,
                              json={"purpose": purpose, "policy_version": policies[purpose]})
        assert granted.status_code == 200, granted.text
    return patient_id, headers


def last_code(container: Container, email: str) -> str:
    """Deliver what is pending (the notifier makes the code), then read the newest code."""
    deliver(container)
    assert container.mailbox is not None
    code = container.mailbox.latest_code(email)
    assert code is not None, f"no sign-in code was emailed to {email}"
    return code


def open_slots(client: TestClient, service_id: str, limit: int = 50) -> list[dict[str, Any]]:
    page = client.get("/slots", params={"service_id": service_id, "limit": limit})
    assert page.status_code == 200, page.text
    slots: list[dict[str, Any]] = page.json()["slots"]
    return slots


def project_all(container: Container) -> None:
    """Every read model catches up with the log once (for containers the `project` fixture
    does not hold, such as ones built for a changed setting)."""
    from infra.postgres.read_models import READ_MODELS, read_model
    from projections.runner import CatchUpRunner

    settings = container.settings
    assert settings.database_url
    for name in READ_MODELS:
        model = read_model(name, settings.database_url, settings.db_schema, phi=container.phi)
        try:
            CatchUpRunner(container.app, model).catch_up()
        finally:
            model.datastore.close()


def miss(client: TestClient, container: Container, headers: dict[str, str],
         slot: dict[str, Any]) -> None:
    """Booked, and marked a no-show once its time came (the use case's clock moved on)."""
    booked = client.post("/bookings", headers=headers, json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    start = datetime.fromisoformat(booked.json()["start"])
    drive(container).mark_no_show(UUID(booked.json()["id"]), start + timedelta(minutes=10))
