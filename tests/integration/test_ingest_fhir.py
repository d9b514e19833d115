"""A FHIR R4 Bundle as an ingestion source, from a file and from a URL on a real loopback
server: Locations, HealthcareServices, Practitioners with their roles, and Schedules with the
roles' availableTime become the same records a CSV would make."""

from __future__ import annotations

import functools
import json
import threading
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import Kind
from commands.ingest.run import IngestReport, IngestRequest
from domain.clinics import Clinic
from domain.providers import Provider
from domain.schedules import Schedule
from domain.services import Service
from infra.ingest.fhir_source import bundle_content, bundle_rows
from infra.wiring.container import Container
from tests.integration.ingest_slots import back_to_back, projected_week
from tests.integration.ingest_support import EXAMPLES, OPERATOR, events, our

BUNDLE = EXAMPLES / "bundle.json"


def ingest(container: Container, content: bytes) -> IngestReport:
    return container.use_cases.ingestion.run(
        IngestRequest(source="fhir", kinds=tuple(Kind)), bundle_rows(content), OPERATOR)


def test_a_bundle_becomes_the_directory_and_again_changes_nothing(container: Container,
                                                                  project: Any) -> None:
    report = ingest(container, bundle_content(str(BUNDLE)))
    assert (report.run.rows_read, report.run.applied, report.rejects) == (5, 5, [])
    app = container.app
    harbor = app.get(Clinic, our(Kind.clinics, "harbor", "fhir"), "clinic")
    assert (harbor.time_zone, harbor.modalities) == ("America/New_York",
                                                     ["in_person", "telehealth"])
    assert app.get(Service, our(Kind.services, "video", "fhir"), "service").modality == \
        "telehealth"
    one = app.get(Provider, our(Kind.providers, "dr-one", "fhir"), "provider")
    assert (one.display_name, one.clinic_ids) == ("Dr. Ada One", [harbor.id])
    rules = app.get(Schedule, Schedule.create_id(one.id, harbor.id), "schedule").rules.as_dict()
    assert rules["weekly"]["monday"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert (rules["weekly"]["tuesday"], rules["horizon_days"]) == ([["09:00", "12:00"]], 14)
    project()
    week = {day: [("09:00", "12:00")] + ([("13:00", "17:00")] if day in (0, 2) else [])
            for day in range(5)}  # Monday to Friday mornings, Monday and Wednesday afternoons
    assert projected_week(container) == back_to_back(
        one.id, harbor.id, our(Kind.services, "checkup", "fhir"), "in_person", 30, week) | \
        back_to_back(one.id, harbor.id, our(Kind.services, "video", "fhir"), "telehealth", 30,
                     week)
    before = events(container)
    assert ingest(container, bundle_content(str(BUNDLE))).run.unchanged == 5
    assert events(container) == before


def test_a_bundle_is_fetched_from_a_url(container: Container, tmp_path: Path) -> None:
    (tmp_path / "bundle.json").write_bytes(BUNDLE.read_bytes())
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert ingest(container, bundle_content(f"{base}/bundle.json")).run.applied == 5
        with pytest.raises(IngestSourceError, match="refused: HTTP 404"):
            bundle_content(f"{base}/missing.json")
    finally:
        server.shutdown()
        server.server_close()


def test_a_bundle_url_that_fails_for_a_moment_is_asked_again(container: Container) -> None:
    answers = [(503, b"{}"), (200, BUNDLE.read_bytes())]

    class Flaky(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answers.pop(0) if len(answers) > 1 else answers[0]
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        content = bundle_content(f"http://127.0.0.1:{server.server_address[1]}/b.json")
        assert ingest(container, content).run.applied == 5
    finally:
        server.shutdown()
        server.server_close()


def test_bad_resources_are_rejected_rows_and_bad_json_a_failed_run(
        container: Container) -> None:
    bundle: dict[str, Any] = json.loads(BUNDLE.read_bytes())
    bundle["entry"][0]["resource"]["extension"][0]["valueCode"] = "EST"
    report = ingest(container, json.dumps(bundle).encode())
    assert [(r.row, r.column, r.rule) for r in report.rejects] == [
        (1, "time_zone", "iana-time-zone"), (5, "clinics", "unknown-reference"),
        (7, "provider", "unknown-reference")]
    assert report.run.applied == 2  # the two services; the rest named the refused clinic
    with pytest.raises(IngestSourceError, match="not valid JSON"):
        ingest(container, b'{"resourceType": "Bundle", "entry": [')
