"""The retention policy erasing for real (docs/privacy.md, "Retention policy"): patients
through the API, then the retention use case, `clinic retention run` and `POST /admin/retention/run`
erase exactly those whose last activity and every visit ended before the cutoff. The erased
lose their data key, gain a `Patient.Erased` event and read as erased; the others read on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.context import Actor
from commands.erasure import DAYS_PER_YEAR
from domain.access import Role
from domain.appointments import Appointment
from domain.patients import Patient
from domain.privacy import ERASED
from infra.cli.main import main
from infra.eventstore.mapper import META
from infra.http.app import create_app
from infra.postgres.read_models import read_model
from infra.settings import Settings
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.e2e.clinic_flow import open_slots, project_all, set_up_clinic, sign_up

PERIOD_SECONDS = 2.0  # the short retention period of the CLI and HTTP runs
SECONDS_PER_YEAR = DAYS_PER_YEAR * 24 * 3600


def test_a_retention_run_erases_exactly_the_patients_whose_visits_and_activity_ended(
        client: TestClient, container: Container, token_for: Any, project: Any) -> None:
    """Judged as of ten years and a day from now, the cutoff is tomorrow: a patient without
    visits, and one whose only visit ends today, are past it; one visit, booked or cancelled,
    three days out keeps its patient. A dry run lists them and erases no one."""
    clinic = set_up_clinic(client, token_for)
    project()
    soon = open_slots(client, clinic["checkup"], limit=1)[0]
    later = _slots_from(client, clinic["checkup"], datetime.now(UTC) + timedelta(days=3))
    no_visits, _ = sign_up(client, container, "quiet@example.org", given_name="Quinn")
    visit_today, today_headers = sign_up(client, container, "today@example.org",
                                         given_name="Tess")
    today = _book(client, today_headers, soon["id"], "rash on the arm")
    booked_later, later_headers = sign_up(client, container, "later@example.org",
                                          given_name="Lars")
    kept_visit = _book(client, later_headers, later[0]["id"], "knee pain")
    cancelled_later, cancelled_headers = sign_up(client, container, "moved@example.org",
                                                 given_name="Mona")
    moved = _book(client, cancelled_headers, later[1]["id"], "follow-up")
    cancelled = client.post(f"/bookings/{moved}/cancel", headers=cancelled_headers,
                            json={"note": "travelling"})
    assert cancelled.status_code == 200, cancelled.text
    project()

    as_of = datetime.now(UTC) + timedelta(days=container.settings.retention_years
                                          * DAYS_PER_YEAR + 1)
    lapsed = {uuid.UUID(no_visits), uuid.UUID(visit_today)}
    operator = Actor("ops-retention", request_id="retention-1", purpose="legal", system=True)
    retention = container.use_cases.retention
    preview = retention.run(operator, as_of, dry_run=True)
    assert set(preview.candidates) == lapsed and preview.erased == []
    assert _key_state(container, visit_today) == "live"  # the dry run erased no one
    with _appointments_projector(container):  # erasure waits for it (commands/erasure.py)
        run = retention.run(operator, as_of, dry_run=False)
    project()

    assert {e.patient_id for e in run.erased} == lapsed and run.failed == []
    assert {e.patient_id: e.visits_cancelled for e in run.erased}[uuid.UUID(visit_today)] == 1
    staff = token_for(Role.admin)  # the network's: one of them never had a visit
    for patient_id in (no_visits, visit_today):
        _assert_erased(container, client, staff, patient_id, actor="ops-retention",
                       reason="erasure: retention-policy")
    for patient_id, name in ((booked_later, "Lars"), (cancelled_later, "Mona")):
        _assert_kept(container, client, staff, patient_id, name)

    gone = client.get(f"/bookings/{today}", headers=staff).json()
    assert gone["status"] == "cancelled" and gone["reason"] == ""  # the provider's time back
    with _fresh(container) as reader:
        visit = reader.repository.get(uuid.UUID(today))
    assert isinstance(visit, Appointment) and visit.reason == ERASED
    kept = client.get(f"/bookings/{kept_visit}", headers=staff).json()
    assert kept["status"] == "booked" and kept["reason"] == "knee pain"
    # Done once: the next run finds no one.
    assert retention.run(operator, as_of, dry_run=True).candidates == []


def test_clinic_retention_run_and_the_admin_endpoint_erase_the_lapsed_only(
        settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A retention period of two seconds (CLINIC_RETENTION_YEARS). The CLI, judging as of a
    moment just past (`--as-of`), erases the patient inactive since before it and keeps the
    one who signed up after it; once that one has lapsed too, the endpoint with `dry_run`
    false erases them. A patient with a visit booked ahead is kept through both."""
    brief = settings.model_copy(update={"retention_years": PERIOD_SECONDS / SECONDS_PER_YEAR})
    container = Container.build(brief)
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            admin = {"Authorization": f"Bearer {container.tokens.issue(Role.admin, 'ops-1')}"}
            clinic = set_up_clinic(client, lambda role, subject="t": admin)
            project_all(container)
            first, _ = sign_up(client, container, "first@example.org", given_name="Fay")
            booked, headers = sign_up(client, container, "ahead@example.org",
                                      given_name="Abe")
            _book(client, headers, open_slots(client, clinic["checkup"], limit=1)[0]["id"],
                  "annual checkup")
            project_all(container)
            time.sleep(PERIOD_SECONDS + 0.5)
            as_of = datetime.now(UTC).isoformat()  # `first` lapsed by then, `recent` not yet
            recent, _ = sign_up(client, container, "recent@example.org", given_name="Rita")
            project_all(container)

            for name, value in {"CLINIC_DATABASE_URL": str(brief.database_url),
                                "CLINIC_REDIS_URL": str(brief.redis_url),
                                "CLINIC_DB_SCHEMA": brief.db_schema,
                                "CLINIC_DATA_DIR": str(brief.data_dir),
                                "CLINIC_RETENTION_YEARS": str(brief.retention_years)}.items():
                monkeypatch.setenv(name, value)
            assert main(["retention", "run", "--dry-run", "--as-of", as_of]) == 0
            listed = capsys.readouterr().out
            assert "would erase 1 patient(s)" in listed and first in listed
            assert booked not in listed and recent not in listed
            with _appointments_projector(container):
                assert main(["retention", "run", "--as-of", as_of]) == 0
            out = capsys.readouterr().out
            assert "erased 1 patient(s)" in out and first in out
            assert booked not in out and recent not in out
            project_all(container)
            staff = {"Authorization":  # the network's: Rita has no visit anywhere
                     f"Bearer {container.tokens.issue(Role.admin, 'admin-1')}"}
            _assert_erased(container, client, staff, first, actor="cli:",
                           reason="erasure: retention-policy")
            _assert_kept(container, client, staff, recent, "Rita")
            _assert_kept(container, client, staff, booked, "Abe")

            time.sleep(PERIOD_SECONDS + 0.5)  # now `recent` has lapsed too
            with _appointments_projector(container):
                answer = client.post("/admin/retention/run", headers=admin,
                                     json={"dry_run": False})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["dry_run"] is False
            assert body["candidates"] == body["erased"] == [recent]  # `first` was done
            project_all(container)
            _assert_erased(container, client, staff, recent, actor="ops-1",
                           reason="erasure: retention-policy")
            _assert_kept(container, client, staff, booked, "Abe")
    finally:
        container.close()


def _assert_erased(container: Container, client: TestClient, staff: dict[str, str],
                   patient_id: str, *, actor: str, reason: str) -> None:
    """Key shredded, `Erased` recorded (with who did it), PHI unreadable, refused by the API."""
    assert _key_state(container, patient_id) == "shredded"
    with _fresh(container) as reader:  # a process started after the erasure
        erased = list(reader.events.get(uuid.UUID(patient_id)))[-1]
        patient = reader.repository.get(uuid.UUID(patient_id))
    assert isinstance(erased, Patient.Erased) and erased.basis == "retention-policy"
    meta = vars(erased)[META]
    assert meta["actor"].startswith(actor) and meta["reason"] == reason
    assert isinstance(patient, Patient) and patient.erased
    assert patient.given_name == patient.family_name == patient.email == ERASED
    answer = client.get(f"/patients/{patient_id}", headers=staff)
    assert answer.status_code == 404 and answer.json()["error"] == "patient-erased"
    assert _patients_row(container, patient_id) == (True, "retention-policy")


def _assert_kept(container: Container, client: TestClient, staff: dict[str, str],
                 patient_id: str, given_name: str) -> None:
    assert _key_state(container, patient_id) == "live"
    with _fresh(container) as reader:
        patient = reader.repository.get(uuid.UUID(patient_id))
    assert isinstance(patient, Patient) and not patient.erased
    assert patient.given_name == given_name
    answer = client.get(f"/patients/{patient_id}", headers=staff)
    assert answer.status_code == 200 and answer.json()["given_name"] == given_name
    assert _patients_row(container, patient_id) == (False, None)


def _key_state(container: Container, patient_id: str) -> str:
    with container.pool.connection() as conn:
        row = conn.execute("SELECT wrapped IS NULL, shredded_at IS NOT NULL FROM phi_data_keys "
                           "WHERE subject_id = %s", (uuid.UUID(patient_id),)).fetchone()
    assert row is not None, f"no data key row for {patient_id}"
    return {(True, True): "shredded", (False, False): "live"}[(row[0], row[1])]


def _patients_row(container: Container, patient_id: str) -> tuple[bool, str | None]:
    with container.pool.connection() as conn:
        row = conn.execute("SELECT erased_at IS NOT NULL, erasure_basis FROM patients "
                           "WHERE patient_id = %s", (uuid.UUID(patient_id),)).fetchone()
    assert row is not None
    return row[0], row[1]


@contextmanager
def _fresh(container: Container) -> Iterator[Any]:
    """The application as a process started now would build it: no data key cached from
    before (each process keeps unwrapped keys for 60 s)."""
    reader = Container.build(container.settings)
    try:
        yield reader.app
    finally:
        reader.close()


def _book(client: TestClient, headers: dict[str, str], slot_id: str, reason: str) -> str:
    booked = client.post("/bookings", headers=headers,
                         json={"slot_id": slot_id, "reason": reason})
    assert booked.status_code == 201, booked.text
    appointment_id: str = booked.json()["id"]
    return appointment_id


def _slots_from(client: TestClient, service_id: str, start: datetime) -> list[dict[str, Any]]:
    page = client.get("/slots", params={"service_id": service_id, "limit": 2,
                                        "start_from": start.isoformat().replace("+00:00", "Z")})
    assert page.status_code == 200, page.text
    slots: list[dict[str, Any]] = page.json()["slots"]
    assert len(slots) == 2
    return slots


@contextmanager
def _appointments_projector(container: Container) -> Iterator[None]:
    """The appointments projector following the log, as `clinic project` runs it beside the
    API: an erasure waits for it to catch up before cancelling visits."""
    assert container.settings.database_url
    model = read_model("appointments", container.settings.database_url,
                       container.settings.db_schema, phi=container.phi)
    runner = CatchUpRunner(container.app, model)
    thread = threading.Thread(target=runner.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        runner.stop()
        thread.join(timeout=10)
        model.datastore.close()
