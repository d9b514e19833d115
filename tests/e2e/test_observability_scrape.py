"""Every metric the dashboard and the alert rules name is in a real scrape of /metrics (the
static checks of those assets are unit tests: tests/unit/test_observability_assets.py)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from infra.embedded.kafka import EmbeddedKafka
from infra.settings import Settings
from infra.wiring.relay import build_relay
from tests.unit.test_observability_assets import expressions, rules, selectors


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka) -> Settings:
    """With Kafka, so that the notifier group's lag is in the scrape too."""
    return settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap,
                                       "kafka_topic_prefix": f"{settings.db_schema}."})


def test_every_metric_named_is_in_a_real_scrape(client: TestClient, settings: Settings) -> None:
    registered = client.post("/patients", json={
        "given_name": "Ana", "family_name": "Lima", "birth_date": "1990-04-01",
        "email": "ana@example.org"})
    assert registered.status_code == 202, registered.text
    runner, resources = build_relay(settings)  # publishes the sign-in code request
    runner.catch_up()
    for resource in resources:
        resource.close()
    scraped = _scrape_with_kafka(client)
    recorded = {r["record"] for r in rules() if "record" in r}
    for expr in expressions():
        for selector in selectors(expr):
            name = selector.name or next(m.value for m in selector.matchers.matchers
                                         if m.name == "__name__")
            assert name in scraped or name in recorded, f"{name} is not exposed: {expr}"


def _scrape_with_kafka(client: TestClient, timeout: float = 60.0) -> set[str]:
    """Sample names (with their type's suffixes) once the broker answered the scrape: a fresh
    broker's group coordinator takes a moment to load."""
    deadline = time.monotonic() + timeout
    while True:
        samples = [s for family in text_string_to_metric_families(client.get("/metrics").text)
                   for s in family.samples]
        if any(s.name == "clinic_state_up" and s.labels == {"source": "kafka"} and s.value == 1
               for s in samples):
            return {s.name for s in samples}
        assert time.monotonic() < deadline, "the scrape never read Kafka"
        time.sleep(1)
