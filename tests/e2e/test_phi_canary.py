"""PHI canary: unique marker names, contact details, visit reasons and notes go in through the
API; then every byte the system keeps — a pg_dump of PostgreSQL, every Redis key and value,
every Kafka topic, the captured logs (which must hold the requests' own log lines, so the
search cannot pass on nothing) — is searched for them, in plaintext and hex (bytea).
After one patient is erased, none of their markers is anywhere (the development mailbox
included), the other patient still reads fine, and the whole event log still replays."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from domain.access import Role
from domain.appointments import Appointment
from domain.consent import Consent, Purpose
from domain.patients import Patient
from domain.privacy import ERASED
from domain.webhooks import WebhookEvent
from infra.embedded.kafka import EmbeddedKafka
from infra.embedded.postgres import EmbeddedPostgres
from infra.http.app import create_app
from infra.observability.logging import configure_logging
from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.waitlist import build_matcher
from infra.wiring.webhooks import build_dispatcher
from tests.delivery import deliver
from tests.e2e.clinic_flow import open_slots, project_all, set_up_clinic, sign_up


def _markers(tag: str) -> dict[str, str]:
    token = uuid.uuid4().hex[:10]
    return {
        "given_name": f"Givn{tag}{token}", "family_name": f"Fmly{tag}{token}",
        "email": f"mail{tag}{token}@example.org", "phone": f"+1 555 {int(token, 16) % 10**7:07d}",
        "reason": f"Rsn{tag}{token} chest pain", "note": f"Note{tag}{token} feeling better",
        "birth_date": "1961-07-13",
    }


@pytest.fixture
def kafka_settings(settings: Settings, kafka: EmbeddedKafka) -> Settings:
    return settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap,
                                       "kafka_topic_prefix": f"{settings.db_schema}.",
                                       "webhook_group": f"webhooks-{settings.db_schema}"})


@pytest.fixture
def kafka_container(kafka_settings: Settings) -> Iterator[Container]:
    from tests.delivery import stop_delivery

    built = Container.build(kafka_settings)
    yield built
    stop_delivery(built)
    built.close()


def test_no_phi_in_postgres_redis_kafka_or_logs_and_erasure_leaves_none(
        kafka_container: Container, postgres: EmbeddedPostgres, kafka: EmbeddedKafka,
        capfd: pytest.CaptureFixture[str]) -> None:
    container = kafka_container
    configure_logging("DEBUG")  # the production pipeline, everything it would log
    people = {"a": _markers("a"), "b": _markers("b")}
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        _register_webhook(client, container)
        ids = _journey(client, container, people)
        _waitlist_offer(client, container, ids, people["a"])
        fhir_answers = _fhir_records(client, container, ids["a"], people["a"])
        deliver(container)  # every event relayed to Kafka, every email sent
        _dispatch_webhooks(container)
        kafka_text = _kafka_dump(kafka.bootstrap)
        assert "AppointmentBooked" in kafka_text and "AppointmentCancelled" in kafka_text
        assert "WaitlistOffered" in kafka_text
        staff = _token(container, Role.front_desk, clinics=[ids["a"]["clinic"]])
        read = client.get(f"/bookings/{ids['a']['appointment']}", headers=staff)
        assert read.status_code == 200 and read.json()["reason"] == people["a"]["reason"]
        _assert_compliance_views(client, container, ids["a"], people["a"])
        as_fhir = client.get(f"/fhir/R4/Appointment/{ids['a']['appointment']}", headers=staff)
        assert as_fhir.status_code == 200 and people["a"]["reason"] in as_fhir.text
        person = client.get(f"/fhir/R4/Patient/{ids['a']['patient']}", headers=staff)
        assert person.status_code == 200 and people["a"]["family_name"] in person.text
        logs = capfd.readouterr().err
        _assert_logged(logs, read, "/bookings/{appointment_id}")
        _assert_logged(logs, as_fhir, "/fhir/R4/Appointment/{appointment_id:uuid}")
        _assert_logged(logs, person, "/fhir/R4/Patient/{patient_id}")
        for answer, route in fhir_answers:
            _assert_logged(logs, answer, route)
        everything = _stored_text(container, postgres, kafka) + logs
        for person in people.values():
            _assert_absent(person, everything, where="before erasure")

        admin = _token(container, Role.admin)
        erased = client.post(f"/admin/patients/{ids['a']['patient']}/erase", headers=admin,
                             json={"basis": "patient-request"})
        assert erased.status_code == 200, erased.text
        assert erased.json()["visits_cancelled"] == 1  # the provider gets the time back
        project_all(container)
        mailed_before = _mailbox_lines(container, ids["a"]["patient"])
        deliver(container)  # the erasure's messages: nothing may reach patient a now
        assert _mailbox_lines(container, ids["a"]["patient"]) == mailed_before == 0
        logs = capfd.readouterr().err
        _assert_logged(logs, erased, "/admin/patients/{patient_id}/erase")
        everything = _stored_text(container, postgres, kafka) + logs + _mailbox_text(container)
        _assert_absent(people["a"], everything, where="after erasure (mailbox included)")
        assert people["b"]["email"] in _mailbox_text(container)  # the search can find things

        gone = client.get(f"/patients/{ids['a']['patient']}", headers=staff)
        assert gone.status_code == 404 and gone.json()["error"] == "patient-erased"
        kept = client.get(f"/patients/{ids['b']['patient']}", headers=staff).json()
        assert kept["family_name"] == people["b"]["family_name"]
        details = client.get(f"/bookings/{ids['a']['appointment']}", headers=staff).json()
        assert details["reason"] == ""  # dropped from the read model by its projector
        assert details["status"] == "cancelled"

    # The immutable log is complete and replays: every event loads, PHI shown as erased.
    app = container.app
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    assert len(events) == len(notifications)
    patient = app.repository.get(uuid.UUID(ids["a"]["patient"]))
    assert patient.erased and patient.given_name == ERASED and patient.email == ERASED
    visit = app.repository.get(uuid.UUID(ids["a"]["appointment"]))
    assert isinstance(visit, Appointment) and visit.reason == ERASED
    assert [type(e).__name__ for e in app.events.get(patient.id)][-1] == "Erased"
    other = app.repository.get(uuid.UUID(ids["b"]["patient"]))
    assert isinstance(other, Patient) and other.given_name == people["b"]["given_name"]


def _journey(client: TestClient, container: Container,
             people: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Register, sign in, consent, look, book, cancel, read back — each person."""
    admin = _token(container, Role.admin)
    clinic = set_up_clinic(client, lambda role, subject="t": admin)
    project_all(container)
    slots = open_slots(client, clinic["checkup"])
    ids: dict[str, dict[str, str]] = {}
    for n, (tag, person) in enumerate(people.items()):
        patient_id, headers = sign_up(
            client, container, person["email"], given_name=person["given_name"],
            family_name=person["family_name"], phone=person["phone"],
            birth_date=person["birth_date"])
        hold = client.post("/holds", json={"slot_id": slots[n]["id"]}, headers=headers).json()
        booked = client.post("/bookings", headers={**headers, "Idempotency-Key": f"k-{tag}"},
                             json={"slot_id": slots[n]["id"], "hold_id": hold["hold_id"],
                                   "hold_secret": hold["hold_secret"],
                                   "reason": person["reason"]})
        assert booked.status_code == 201, booked.text
        kept = client.post("/bookings", headers=headers,
                           json={"slot_id": slots[n + 5]["id"], "reason": person["reason"]})
        assert kept.status_code == 201, kept.text
        cancelled = client.post(f"/bookings/{booked.json()['id']}/cancel", headers=headers,
                                json={"note": person["note"]})
        assert cancelled.status_code == 200, cancelled.text
        # A second, unused code waits in Redis; a hold stays placed.
        client.post("/auth/email-code", json={"email": person["email"]})
        client.post("/holds", json={"slot_id": slots[n + 10]["id"]}, headers=headers)
        project_all(container)
        profile = client.get(f"/patients/{patient_id}", headers=headers)
        assert profile.json()["given_name"] == person["given_name"]
        details = client.get(f"/bookings/{kept.json()['id']}", headers=headers)
        assert details.json()["reason"] == person["reason"]
        ids[tag] = {"patient": patient_id, "appointment": kept.json()["id"],
                    "clinic": clinic["clinic"], "service": clinic["checkup"]}
    return ids


def _fhir_records(client: TestClient, container: Container, ids: dict[str, str],
                  person: dict[str, str]) -> list[tuple[httpx.Response, str]]:
    """Through FHIR only: the patient books and cancels with `$book`; staff search the
    appointments, read the consent by id and by patient, and find the patient by `_id`
    (positive control: the name is in that answer). Each answer, with its route."""
    patient = {"Authorization":
               f"Bearer {container.sessions.sign_in(ids['patient']).access_token}",
               "content-type": "application/fhir+json"}
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    found = client.get("/fhir/R4/Appointment/$find", params={
        "service-type": ids["service"], "start": f"ge{start.isoformat()}"})
    assert found.status_code == 200, found.text
    pending = {**found.json()["entry"][0]["resource"], "status": "pending"}  # booked free
    pending["participant"].append({"actor": {"reference": f"Patient/{ids['patient']}"},
                                   "status": "accepted"})
    booked = client.post("/fhir/R4/Appointment/$book", headers=patient, content=json.dumps(
        _book_parameters(pending)))
    assert booked.status_code == 201, booked.text
    cancelled = client.post("/fhir/R4/Appointment/$book", headers=patient, content=json.dumps(
        _book_parameters({**booked.json(), "status": "cancelled"})))
    assert cancelled.status_code == 200, cancelled.text
    project_all(container)
    staff = _token(container, Role.front_desk, clinics=[ids["clinic"]])
    consent_id = Consent.create_id(uuid.UUID(ids["patient"]), Purpose.treatment.value)
    answers = [
        (booked, "/fhir/R4/Appointment/$book"), (cancelled, "/fhir/R4/Appointment/$book"),
        (client.get("/fhir/R4/Appointment", headers=staff,
                    params={"patient": f"Patient/{ids['patient']}"}), "/fhir/R4/Appointment"),
        (client.get(f"/fhir/R4/Consent/{consent_id}", headers=staff),
         "/fhir/R4/Consent/{consent_id}"),
        (client.get("/fhir/R4/Consent", headers=staff,
                    params={"patient": f"Patient/{ids['patient']}"}), "/fhir/R4/Consent"),
        (client.get("/fhir/R4/Patient", headers=staff, params={"_id": ids["patient"]}),
         "/fhir/R4/Patient")]
    assert all(answer.status_code == 200 for answer, _ in answers[2:]), answers
    assert len(answers[2][0].json()["entry"]) >= 2  # the FHIR visit among the JSON ones
    assert person["family_name"] in answers[-1][0].text
    return answers


def _book_parameters(appointment: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "appointment-resource", "resource": appointment}]}


def _register_webhook(client: TestClient, container: Container) -> None:
    """A webhook for every appointment message, at a port nothing listens on: the
    dispatcher records each delivery's body in PostgreSQL, where the search looks."""
    created = client.post("/webhooks", headers=_token(container, Role.admin), json={
        "url": "https://127.0.0.1:9/hooks", "events": [e.value for e in WebhookEvent]})
    assert created.status_code == 201, created.text


def _dispatch_webhooks(container: Container) -> None:
    dispatcher, resources = build_dispatcher(container.settings)
    deadline = time.monotonic() + 60
    try:
        while not _webhook_bodies(container):
            assert time.monotonic() < deadline, "no webhook delivery recorded"
            dispatcher.run_once(0.5)
        for _ in range(5):  # the rest of the topic
            dispatcher.run_once(0.3)
    finally:
        for resource in resources:
            resource.close()
    bodies = _webhook_bodies(container)
    assert any('"type":"AppointmentCancelled"' in body for body in bodies), bodies


def _webhook_bodies(container: Container) -> list[str]:
    with container.pool.connection() as conn:
        return [row[0] for row in conn.execute("SELECT body FROM webhook_deliveries")]


def _waitlist_offer(client: TestClient, container: Container, ids: dict[str, dict[str, str]],
                    person: dict[str, str]) -> None:
    """b waits for a checkup; a books one more and cancels it (with a note); the matcher
    offers the freed time to b: the offer's events and message are in what is searched."""
    b = {"Authorization": f"Bearer {container.sessions.sign_in(ids['b']['patient']).access_token}"}
    a = {"Authorization": f"Bearer {container.sessions.sign_in(ids['a']['patient']).access_token}"}
    slot = open_slots(client, ids["a"]["service"])[20]
    waits = client.post("/waitlist/entries", headers=b, json={
        "service_id": ids["a"]["service"], "not_after": slot["end"]})
    assert waits.status_code == 201, waits.text
    booked = client.post("/bookings", headers=a, json={"slot_id": slot["id"],
                                                        "reason": person["reason"]})
    assert booked.status_code == 201, booked.text
    cancelled = client.post(f"/bookings/{booked.json()['id']}/cancel", headers=a,
                            json={"note": person["note"]})
    assert cancelled.status_code == 200, cancelled.text
    project_all(container)
    matcher, resources = build_matcher(container.settings)
    try:
        assert matcher.run_once().get("offered") == 1
    finally:
        for resource in resources:
            resource.close()


def _assert_compliance_views(client: TestClient, container: Container, ids: dict[str, str],
                             person: dict[str, str]) -> None:
    """The compliance routes show no PHI unless asked with a stated purpose (positive
    control: then they do)."""
    officer = _token(container, Role.compliance)
    timeline = client.get("/audit/timeline", params={"patient_id": ids["patient"]},
                          headers=officer)
    record = client.get(f"/audit/records/{ids['appointment']}", headers=officer)
    patient = client.get(f"/audit/records/{ids['patient']}", headers=officer)
    for answer in (timeline, record, patient):
        assert answer.status_code == 200, answer.text
        _assert_absent(person, answer.text, where="in a compliance view without a purpose")
    assert len(timeline.json()["items"]) > 5
    shown = client.get("/audit/timeline", headers={**officer, "X-Purpose-Of-Use": "legal"},
                       params={"patient_id": ids["patient"], "include_phi": "true"})
    assert person["reason"] in shown.text and person["email"] in shown.text


def _assert_absent(person: dict[str, str], haystack: str, *, where: str) -> None:
    lowered = haystack.lower()
    for field, marker in person.items():
        if field == "birth_date":
            continue  # a date is not unique text; it is sealed with the names
        for form in (marker.lower(), marker.encode().hex()):
            assert form not in lowered, f"{field} found in plaintext {where}"


def _assert_logged(logs: str, response: httpx.Response, route: str) -> None:
    """Positive control: the captured text holds the application's own log line for
    `response` (its request id, route template and status), so finding no marker in it
    means the logs were searched, not that nothing was captured."""
    assert logs.strip(), "no log output was captured: the log check would prove nothing"
    request_id = response.headers["x-request-id"]
    lines = []
    for line in logs.splitlines():
        with suppress(ValueError):
            lines.append(json.loads(line))
    assert any(isinstance(entry, dict) and entry.get("request_id") == request_id
               and entry.get("route") == route and entry.get("status") == response.status_code
               for entry in lines), f"the request log line of {route} was not captured"


def _stored_text(container: Container, postgres: EmbeddedPostgres, kafka: EmbeddedKafka) -> str:
    return (_pg_dump(container, postgres) + _redis_dump(container)
            + _kafka_dump(kafka.bootstrap))


def _pg_dump(container: Container, postgres: EmbeddedPostgres) -> str:
    assert container.settings.database_url
    dump = subprocess.run([str(postgres.binary("pg_dump")), "--no-owner",
                           container.settings.database_url],
                          check=True, capture_output=True)
    text = dump.stdout.decode("utf-8", "replace")
    assert "clinic_events" in text and "audit_events" in text and "timeline_events" in text
    return text


def _redis_dump(container: Container) -> str:
    client: redis.Redis = container.redis
    parts: list[str] = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value: Any = {"string": client.get, "hash": client.hgetall, "set": client.smembers,
                      "zset": lambda k: client.zrange(k, 0, -1),
                      "list": lambda k: client.lrange(k, 0, -1)}[kind](key)
        parts.append(f"{key!r} {value!r}")
    assert parts, "Redis held nothing: the canary would prove nothing"
    return "\n".join(parts)


def _kafka_dump(bootstrap: str) -> str:
    topics = [t for t in AdminClient({"bootstrap.servers": bootstrap}).list_topics(
        timeout=10).topics if not t.startswith("__")]
    if not topics:
        return ""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"canary-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    parts: list[str] = []
    try:
        metadata = consumer.list_topics(timeout=10)
        partitions = [TopicPartition(t, p) for t in topics
                      for p in metadata.topics[t].partitions]
        consumer.assign(partitions)
        while message := consumer.poll(2.0):
            if message.error() is None:
                parts.append(repr((message.key(), message.value(), message.headers())))
    finally:
        consumer.close()
    return "\n".join(parts)


def _mailbox_lines(container: Container, patient_id: str) -> int:
    return _mailbox_text(container).count(f'"patient_id": "{patient_id}"')


def _mailbox_text(container: Container) -> str:
    path = Path(container.settings.resolved_data_dir()) / "mailbox" / "messages.jsonl"
    return path.read_text() if path.exists() else ""


def _token(container: Container, role: Role, clinics: list[str] | None = None
           ) -> dict[str, str]:
    token = container.tokens.issue(role, f"{role.value}-1", 600,
                                   clinics=None if clinics is None else map(uuid.UUID, clinics))
    return {"Authorization": f"Bearer {token}"}


def test_problem_responses_never_echo_what_was_sent(client: TestClient) -> None:
    marker = f"Zq{uuid.uuid4().hex[:8]}"
    bad_bodies = [
        {"given_name": marker * 30, "family_name": "X", "birth_date": "1990-01-01",
         "email": "a@example.org"},
        {"given_name": "A", "family_name": "X", "birth_date": marker, "email": "a@example.org"},
        {"given_name": "A", "family_name": "X", "birth_date": "1990-01-01", "email": marker},
        {"given_name": "A", "family_name": "X", "birth_date": "2990-01-01",
         "email": f"{marker}@example.org", "phone": f"call {marker}"},
        {"given_name": "A", "family_name": "X", "birth_date": "1990-01-01",
         "email": "a@example.org", marker: marker[::-1]},
    ]
    for body in bad_bodies:
        answer = client.post("/patients", json=body)
        assert answer.status_code in (400, 422), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert marker.lower() not in answer.text.lower()
        assert marker[::-1].lower() not in answer.text.lower()
    garbled = client.post("/patients", content=f'{{"given_name": "{marker}', headers={
        "content-type": "application/json"})
    assert garbled.status_code == 400 and marker not in garbled.text
