"""Events already in the log stay readable (issue "Hardening", item 1): text recorded before
the domain refused it does not wedge a read model, and a follower stuck on an event for any
other reason is visible in /readyz, the metrics and `clinic projections status`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from domain.access import Role
from domain.availability import AvailabilityRules
from domain.clinics import Clinic
from domain.modality import Modality
from infra.postgres.follower_health import PostgresFollowerHealth
from infra.settings import Settings
from infra.wiring.container import Container
from tests.driver import drive
from tests.e2e.clinic_flow import ADDRESS, EVERY_DAY


def test_a_clinic_name_with_nul_recorded_long_ago_is_projected_not_retried_forever(
        client: TestClient, container: Container, project: Callable[[], int]) -> None:
    # As an event logged before the domain refused such text: straight through the
    # aggregate's event constructor, around Clinic.register's checks.
    clinic = Clinic(name="Har\x00bor", address={**ADDRESS, "postal_code": "021\x0010",
                                                "country": "US"},
                    time_zone="America/New_York", modalities=[Modality.in_person.value])
    container.app.save(clinic)
    clinics = drive(container)
    service = clinics.register_service("Checkup", 30, Modality.in_person)
    provider = clinics.register_provider("Dr. One", [clinic.id], [service])
    clinics.publish_availability(provider, clinic.id, AvailabilityRules.from_dict({
        "weekly": {day: [["00:00", "24:00"]] for day in EVERY_DAY}, "horizon_days": 3}))

    project()  # raised DataError (NUL in a text field) before, at every retry

    slots = client.get("/slots", params={"service_id": str(service), "limit": 1}).json()
    assert slots["slots"][0]["clinic"]["name"] == "Har\ufffdbor"


def test_a_stuck_follower_is_degraded_in_readyz_alerting_in_metrics_and_named_by_the_cli(
        client: TestClient, container: Container, settings: Settings,
        token_for: Any, tmp_path: Path) -> None:
    assert settings.database_url
    health = PostgresFollowerHealth(settings.database_url, settings.db_schema)
    try:
        health.failing("slot_search", 1234, "DataError: cannot store this text")
        health.failing("slot_search", 1234, "DataError: cannot store this text")

        ready = client.get("/readyz")
        assert ready.status_code == 200  # the API answers; another replica would not do better
        assert ready.json()["status"] == "degraded"
        assert ready.json()["degraded"] == ["slot_search: stuck at event 1234"]

        metrics = client.get("/metrics", headers=token_for(Role.admin)).text
        assert 'clinic_projection_failing{projector="slot_search"} 1.0' in metrics
        assert 'clinic_projection_failing{projector="relay"} 0.0' in metrics

        env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
            "CLINIC_DATA_DIR": str(tmp_path), "CLINIC_DATABASE_URL": settings.database_url,
            "CLINIC_REDIS_URL": str(settings.redis_url), "CLINIC_DB_SCHEMA": settings.db_schema}
        status = subprocess.run([sys.executable, "-m", "infra.cli.main", "projections",
                                 "status"], env=env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 1, status.stderr
        assert ("FAILING at 1234 since" in status.stdout
                and "(2 attempts): DataError: cannot store this text" in status.stdout)

        health.recovered("slot_search")
        assert client.get("/readyz").json()["status"] == "ready"
    finally:
        health.close()
