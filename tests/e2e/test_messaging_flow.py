"""Book over HTTP -> Avro message on a real Kafka topic -> reminder -> email on a real SMTP
server, with a valid .ics; and nothing is emailed to or about an erased patient."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from domain.access import Role
from infra.embedded.kafka import EmbeddedKafka
from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.reminders import build_scheduler
from projections.notifications.emails import find_sign_in_code
from tests.delivery import LocalDelivery, redeliver_dead_letters
from tests.e2e.clinic_flow import open_slots, set_up_clinic
from tests.harness.smtp import Received, SmtpServer, smtp_server
from tests.harness.topics import decode_with_only_the_avsc, read_topic


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka, smtp: SmtpServer) -> Settings:
    return settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "kafka_topic_prefix": f"{settings.db_schema}.",
        "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_starttls": False,
        "reminder_offsets": "30m", "notify_backoff_seconds": 0.1})


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[LocalDelivery]:
    running = LocalDelivery(settings)
    yield running
    running.close()


def _emails_to(smtp: SmtpServer, address: str) -> list[Received]:
    return [m for m in smtp.messages if address in m.rcpt_tos]


def _sign_up(client: TestClient, smtp: SmtpServer, pipeline: LocalDelivery, email: str
             ) -> tuple[str, dict[str, str]]:
    registered = client.post("/patients", json={
        "given_name": "Kai", "family_name": "Moss", "birth_date": "1985-02-03", "email": email})
    assert registered.status_code == 202, registered.text
    pipeline.deliver_until(lambda: bool(_emails_to(smtp, email)))
    code = find_sign_in_code(_emails_to(smtp, email)[-1].message.get_body(
        preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert code is not None
    token = client.post("/auth/verify", json={"email": email, "code": code})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    policies = {p["purpose"]: p["version"] for p in client.get("/consent-policies").json()}
    patient_id = registered.json()["patient_id"]
    for purpose in ("treatment", "telehealth", "reminders_email"):
        assert client.post(f"/patients/{patient_id}/consents", headers=headers, json={
            "purpose": purpose, "policy_version": policies[purpose]}).status_code == 200
    return patient_id, headers


def test_booking_reaches_kafka_reminds_and_emails_with_ics(
        client: TestClient, container: Container, token_for: Any, project: Any,
        settings: Settings, kafka: EmbeddedKafka, smtp: SmtpServer,
        pipeline: LocalDelivery) -> None:
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    email = "kai@example.org"
    patient_id, headers = _sign_up(client, smtp, pipeline, email)
    slot = open_slots(client, ids["long"])[0]
    booked = client.post("/bookings", headers={**headers, "Idempotency-Key": "m-1"},
                         json={"slot_id": slot["id"], "reason": "rash on the left arm"})
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    # The confirmation: an email with a valid invitation for the visit's time.
    pipeline.deliver_until(lambda: len(_emails_to(smtp, email)) >= 2)
    confirmation = _emails_to(smtp, email)[1].message
    assert "booked" in str(confirmation["Subject"]).lower()
    ics = next(p for p in confirmation.iter_attachments()
               if p.get_content_type() == "text/calendar")
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    event = calendar.walk("VEVENT")[0]
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == datetime.fromisoformat(slot["start"])
    assert appointment_id in str(event["UID"])
    assert "/telehealth/join?token=" in confirmation.get_body(
        preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    # The message on the topic: decodable with only the .avsc, ids and times only.
    topic = f"{settings.kafka_topic_prefix}clinic.appointments.v1"
    [message] = read_topic(kafka.bootstrap, topic, 1)
    name, record = decode_with_only_the_avsc(message.value())
    assert name == "AppointmentBooked"
    assert str(record["appointment_id"]) == appointment_id
    assert str(record["patient_id"]) == patient_id
    assert record["modality"] == "telehealth"
    headers_of = dict(message.headers())
    assert headers_of["event_type"] == b"AppointmentBooked"
    assert message.key() == appointment_id.encode()
    assert set(headers_of) >= {"event_id", "schema_fingerprint", "occurred_at"}
    assert b"rash" not in message.value()

    # The reminder 30 minutes before: recorded once, however often the scheduler runs.
    start = datetime.fromisoformat(slot["start"])
    scheduler, resources = build_scheduler(
        settings, clock=lambda: start - timedelta(minutes=29))
    try:
        project()
        assert scheduler.run_once() == 1
        assert scheduler.run_once() == 0
        scheduler.schedule.mark = lambda *args: None  # type: ignore[method-assign]
        assert scheduler.run_once() == 0  # marks lost: the event store still says no
    finally:
        for resource in resources:
            resource.close()
    pipeline.deliver_until(lambda: len(_emails_to(smtp, email)) >= 3)
    reminder = _emails_to(smtp, email)[2].message
    assert "reminder" in str(reminder["Subject"]).lower()
    [due] = read_topic(kafka.bootstrap, f"{settings.kafka_topic_prefix}clinic.reminders.v1", 1)
    assert decode_with_only_the_avsc(due.value())[1]["offset_minutes"] == 30

    # Every email went to the patient, and none twice.
    assert all(m.rcpt_tos == [email] for m in smtp.messages)
    assert container.mailbox is None  # SMTP configured: no development mailbox


def test_no_email_to_or_about_an_erased_patient(
        client: TestClient, container: Container, token_for: Any, project: Any,
        smtp: SmtpServer, pipeline: LocalDelivery) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    email = "gone@example.org"
    patient_id, headers = _sign_up(client, smtp, pipeline, email)
    slot = open_slots(client, ids["checkup"])[0]
    booked = client.post("/bookings", headers={**headers, "Idempotency-Key": "e-1"},
                         json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    sent_before = len(_emails_to(smtp, email))  # the sign-in code only: not delivered yet
    project()  # erasure cancels the visits the appointments read model knows
    erased = client.post(f"/admin/patients/{patient_id}/erase",
                         headers={**token_for(Role.admin), "X-Purpose-Of-Use": "operations"},
                         json={"basis": "patient-request"})
    assert erased.status_code in (200, 202), erased.text
    # The booking, the cancellation erasure made, the erasure itself: all skipped.
    outcomes: dict[str, int] = {}

    def everything_handled() -> bool:
        outcomes.update(pipeline.notifier.log.outcomes())
        return outcomes.get("skipped", 0) >= 2

    pipeline.deliver_until(everything_handled)
    assert len(_emails_to(smtp, email)) == sent_before
    assert "sent" in outcomes and outcomes.get("dead-lettered", 0) == 0


def test_a_dead_letter_keeps_what_could_not_be_sent(
        client: TestClient, container: Container, settings: Settings, kafka: EmbeddedKafka,
        smtp: SmtpServer) -> None:
    with smtp_server(reply=550) as refusing:
        refused = settings.model_copy(update={"smtp_port": refusing.port,
                                              "notify_max_attempts": 2})
        pipeline = LocalDelivery(refused)
        try:
            registered = client.post("/patients", json={
                "given_name": "Lou", "family_name": "Reed", "birth_date": "1970-01-01",
                "email": "lou@example.org"})
            assert registered.status_code == 202
            pipeline.deliver_until(
                lambda: pipeline.notifier.log.outcomes().get("dead-lettered", 0) == 1)
        finally:
            pipeline.close()
    [dead] = read_topic(kafka.bootstrap, f"{settings.kafka_topic_prefix}clinic.notify.dlq.v1", 1)
    dead_headers = dict(dead.headers())
    assert dead_headers["event_type"] == b"SignInCodeRequested"
    assert b"550" in dead_headers["dlq_reason"]
    assert decode_with_only_the_avsc(dead.value())[1]["patient_id"] == uuid.UUID(
        registered.json()["patient_id"])
    assert not smtp.messages

    # The cause fixed (a server that accepts), the dead letter is delivered after all, once.
    assert redeliver_dead_letters(settings, idle=5.0) == {"sent": 1}
    [email] = smtp.wait_for(1)
    assert email.rcpt_tos == ["lou@example.org"]
    assert find_sign_in_code(email.message.get_body(
        preferencelist=("plain",)).get_content()) is not None  # type: ignore[union-attr]
