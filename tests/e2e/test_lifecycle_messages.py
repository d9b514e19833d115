"""A visit's later steps (check-in, completion, no-show) and a consent revocation reach the
real Kafka broker through the relay, each on its documented topic, under its documented key,
and decodable with nothing but avro/*.avsc. The expected values come from what the test did
(the ids it got back over HTTP, the times the event store recorded), never from the
production mapping (projections/messages.py) that made the messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from confluent_kafka import Message
from fastapi.testclient import TestClient

from domain.access import Role
from infra.embedded.kafka import EmbeddedKafka
from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.relay import build_relay
from tests.driver import drive
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up
from tests.harness.topics import decode_with_only_the_avsc, headers_of, read_topic

APPOINTMENT_FIELDS = {"appointment_id", "occurred_at"}
CONSENT_REVOKED_FIELDS = {"consent_id", "patient_id", "purpose", "occurred_at"}


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka) -> Settings:
    return settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "kafka_topic_prefix": f"{settings.db_schema}.",
        "notify_group": f"notify-{settings.db_schema}"})


def _by_key(messages: list[Message]) -> dict[bytes, list[tuple[str, dict[str, Any], Message]]]:
    """Each key's messages in partition order, decoded with only the .avsc files."""
    grouped: dict[bytes, list[tuple[str, dict[str, Any], Message]]] = {}
    for message in messages:
        name, record = decode_with_only_the_avsc(message.value() or b"")
        assert headers_of(message)["event_type"] == name.encode()
        grouped.setdefault(message.key() or b"", []).append((name, record, message))
    return grouped


def _recorded_at(container: Container, aggregate_id: str, version: int) -> datetime:
    """When the event store recorded that version of the aggregate."""
    moment: datetime = container.app.repository.get(UUID(aggregate_id), version=version
                                                    ).modified_on
    return moment


def _header_time(message: Message) -> datetime:
    return datetime.fromisoformat(headers_of(message)["occurred_at"].decode())


def test_visit_steps_and_a_revoked_consent_are_relayed_to_kafka(
        client: TestClient, container: Container, token_for: Any, project: Any,
        settings: Settings, kafka: EmbeddedKafka) -> None:
    ids = set_up_clinic(client, token_for)
    project()
    slots = open_slots(client, ids["checkup"])
    patient_id, patient = sign_up(client, container, "noor@example.org",
                                  ("treatment", "reminders_email"))
    seen = client.post("/bookings", headers=patient, json={"slot_id": slots[0]["id"]})
    missed = client.post("/bookings", headers=patient, json={"slot_id": slots[2]["id"]})
    assert seen.status_code == missed.status_code == 201, (seen.text, missed.text)
    seen_id, missed_id = seen.json()["id"], missed.json()["id"]

    # The patient comes and is seen (versions 2 and 3 of the appointment).
    staff = token_for(Role.front_desk, clinics=[ids["clinic"]])
    assert client.post(f"/bookings/{seen_id}/check-in", headers=staff
                       ).json()["status"] == "checked-in"
    assert client.post(f"/bookings/{seen_id}/complete", headers=staff
                       ).json()["status"] == "fulfilled"
    # The other visit has not begun: no-show is refused now, and accepted once its time has
    # come (the application's clock moved past the start; version 2).
    early = client.post(f"/bookings/{missed_id}/no-show", headers=staff)
    assert early.status_code == 422 and early.json()["error"] == "invalid-status-transition"
    missed_start = datetime.fromisoformat(missed.json()["start"])
    assert drive(container).mark_no_show(UUID(missed_id), missed_start + timedelta(minutes=10)
                                      ).status.value == "noshow"
    # The patient withdraws the reminders consent.
    revoked = client.delete(f"/patients/{patient_id}/consents/reminders_email", headers=patient)
    assert revoked.status_code == 200, revoked.text
    receipt = revoked.json()["receipt"]
    assert receipt["status"] == "revoked"

    relay, resources = build_relay(settings)
    try:
        relay.catch_up()
    finally:
        for resource in resources:
            resource.close()

    prefix = settings.kafka_topic_prefix
    visits = _by_key(read_topic(kafka.bootstrap, f"{prefix}clinic.appointments.v1", 5))
    assert {key: [name for name, _, _ in steps] for key, steps in visits.items()} == {
        seen_id.encode(): ["AppointmentBooked", "AppointmentCheckedIn", "AppointmentCompleted"],
        missed_id.encode(): ["AppointmentBooked", "AppointmentNoShow"]}
    steps = {(key, name): (record, message) for key, kept in visits.items()
             for name, record, message in kept}
    for appointment_id, name, version in ((seen_id, "AppointmentCheckedIn", 2),
                                          (seen_id, "AppointmentCompleted", 3),
                                          (missed_id, "AppointmentNoShow", 2)):
        record, message = steps[(appointment_id.encode(), name)]
        assert set(record) == APPOINTMENT_FIELDS, name
        assert record["appointment_id"] == UUID(appointment_id), name
        recorded = _recorded_at(container, appointment_id, version)
        assert record["occurred_at"] == recorded == _header_time(message), name
        assert record["occurred_at"].tzinfo is not None, name
    checked_in = steps[(seen_id.encode(), "AppointmentCheckedIn")][0]["occurred_at"]
    completed = steps[(seen_id.encode(), "AppointmentCompleted")][0]["occurred_at"]
    assert checked_in < completed <= datetime.now(UTC)

    patient_messages = read_topic(kafka.bootstrap, f"{prefix}clinic.patients.v1", 5)
    by_patient = _by_key(patient_messages)
    assert list(by_patient) == [patient_id.encode()]  # keyed by the patient, even consents
    told = by_patient[patient_id.encode()]  # one key: one partition, in order
    assert [name for name, _, _ in told] == [
        "SignInCodeRequested", "PatientVerified", "ConsentGranted", "ConsentGranted",
        "ConsentRevoked"]
    name, record, message = told[-1]
    assert set(record) == CONSENT_REVOKED_FIELDS
    assert record["consent_id"] == UUID(receipt["consent_id"])
    assert record["patient_id"] == UUID(patient_id)
    assert record["purpose"] == "reminders_email"
    revoked_at = _recorded_at(container, receipt["consent_id"], receipt["version"])
    assert record["occurred_at"] == revoked_at == _header_time(message)
    granted = [r for n, r, _ in told if n == "ConsentGranted" and r["purpose"] == "reminders_email"]
    assert [r["consent_id"] for r in granted] == [record["consent_id"]]  # the same record

    # Every message of either topic carries its own event id.
    event_ids = [headers_of(m)["event_id"] for kept in (*visits.values(), told)
                 for _, _, m in kept]
    assert len({UUID(e.decode()) for e in event_ids}) == len(event_ids) == 10
