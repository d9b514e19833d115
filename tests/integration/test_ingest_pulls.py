"""Pulling configured partners: on request over HTTP (admin), and on a schedule by
`clinic ingest --watch` — one active watcher across processes (it waits while another holds
the advisory lock) — with each source's last success in /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.ingest.rows import Kind
from domain.access import Role
from domain.clinics import Clinic
from infra.ingest.pulls import PULLER, watch
from infra.wiring.container import Container
from infra.wiring.followers import exclusive
from tests.integration.ingest_support import our
from tests.integration.test_ingest_partner import DIRECTORY, Partner, page, settings_for


@pytest.fixture
def acme(container: Container) -> Iterator[Partner]:
    """A partner `acme` in the deployment's settings, serving the whole directory."""
    with Partner({(kind, None): [page(items)] for kind, items in DIRECTORY.items()}) as p:
        container.settings.ingest_partners["acme"] = settings_for(p, every_minutes=0.01)
        yield p
        container.settings.ingest_partners.pop("acme")


def _completed_runs(container: Container) -> list[tuple[Any, ...]]:
    with container.pool.connection() as conn:
        return list(conn.execute("SELECT source, started_by, applied, unchanged FROM "
                                 "ingest_runs WHERE status = 'completed' ORDER BY started_at"))


def test_an_admin_pulls_a_configured_partner_over_http(
        client: TestClient, container: Container, token_for: Any, acme: Partner) -> None:
    admin = token_for(Role.admin, "admin-1")
    pulled = client.post("/ingest/runs", params={"partner": "acme"}, headers=admin)
    assert pulled.status_code == 201, pulled.text
    run = pulled.json()
    assert (run["source"], run["applied"], run["rejected"]) == ("partner:acme", 5, 0)
    assert client.get(pulled.headers["location"], headers=admin).json()["run_id"] == \
        run["run_id"]
    assert container.app.get(Clinic, our(Kind.clinics, "harbor", "partner:acme"),
                             "clinic").name == "Harbor Clinic"
    unknown = client.post("/ingest/runs", params={"partner": "nobody"}, headers=admin)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown-partner")
    no_kind = client.post("/ingest/runs", content=b"external_id,name\n", headers={
        **admin, "content-type": "text/csv"})
    assert no_kind.status_code == 422
    assert client.post("/ingest/runs", params={"partner": "acme"},
                       headers=token_for(Role.front_desk)).status_code == 403

    metrics = client.get("/metrics").text
    assert 'clinic_ingest_last_success_timestamp_seconds{source="partner:acme"}' in metrics


def test_the_watcher_pulls_on_schedule_and_waits_while_another_holds_the_lock(
        container: Container, acme: Partner) -> None:
    settings, stopping = container.settings, threading.Event()
    with exclusive(settings, PULLER, wait=False):  # another watcher is active
        watcher = threading.Thread(target=watch, args=(
            container.use_cases.ingestion, settings, stopping), daemon=True)
        watcher.start()
        time.sleep(1.5)
        assert _completed_runs(container) == []  # it waited: no pull while not its turn
    deadline = time.monotonic() + 60
    while len(_completed_runs(container)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    stopping.set()
    watcher.join(timeout=30)
    assert not watcher.is_alive()
    runs = _completed_runs(container)
    assert len(runs) >= 2, runs
    assert {r[:2] for r in runs} == {("partner:acme", "scheduler:ingest")}
    assert (runs[0][2], runs[1][2:]) == (5, (0, 5))  # the second pull changed nothing
