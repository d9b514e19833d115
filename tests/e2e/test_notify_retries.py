"""The notifier's transient-retry path against a real SMTP server that defers with 451: a
server that recovers within CLINIC_NOTIFY_MAX_ATTEMPTS gets the email exactly once; one that
does not sends the message to the dead-letter topic, from where it is delivered once the
server is back. Registration over HTTP, the relay and the notifier on a real Kafka broker."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from infra.embedded.kafka import EmbeddedKafka
from infra.settings import Settings
from projections.notifications.emails import find_sign_in_code
from tests.delivery import LocalDelivery, redeliver_dead_letters
from tests.harness.smtp import Received, SmtpServer, smtp_server
from tests.harness.topics import decode_with_only_the_avsc, headers_of, read_topic

MAX_ATTEMPTS = 3
BACKOFF = 0.05  # seconds; the waits are 0.05 and 0.1 s


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka) -> Settings:
    return settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "kafka_topic_prefix": f"{settings.db_schema}.",
        "notify_group": f"notify-{settings.db_schema}", "smtp_host": "127.0.0.1",
        "smtp_starttls": False, "notify_max_attempts": MAX_ATTEMPTS,
        "notify_backoff_seconds": BACKOFF})


def _sending_to(settings: Settings, server: SmtpServer) -> Settings:
    return settings.model_copy(update={"smtp_host": server.host, "smtp_port": server.port})


def _register(client: TestClient, email: str) -> str:
    registered = client.post("/patients", json={
        "given_name": "Ida", "family_name": "Wells", "birth_date": "1962-07-16", "email": email})
    assert registered.status_code == 202, registered.text
    return str(registered.json()["patient_id"])


def _signs_in_with(client: TestClient, received: Received, email: str) -> None:
    """The email that arrived carries the code the notifier made: it signs the patient in."""
    code = find_sign_in_code(received.message.get_body(
        preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert code is not None
    verified = client.post("/auth/verify", json={"email": email, "code": code})
    assert verified.status_code == 200, verified.text


def _logged(settings: Settings) -> list[tuple[str, str, int]]:
    """notify_log as (event_type, outcome, attempts)."""
    with psycopg.connect(str(settings.database_url)) as conn:
        rows = conn.execute(f'SELECT event_type, outcome, attempts FROM "{settings.db_schema}"'
                            ".notify_log ORDER BY handled_at").fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def test_an_email_deferred_twice_is_retried_and_delivered_once(
        client: TestClient, settings: Settings) -> None:
    email = "ida@example.org"
    with smtp_server(reply=451, refuse_first=MAX_ATTEMPTS - 1) as deferring:
        pipeline = LocalDelivery(_sending_to(settings, deferring))
        try:
            _register(client, email)
            pipeline.deliver_until(lambda: bool(deferring.messages))
            for _ in range(3):  # keep the notifier going: nothing else may arrive
                pipeline.relay.catch_up()
                pipeline.notifier.run_once(0.3)
        finally:
            pipeline.close()
    assert deferring.refused == MAX_ATTEMPTS - 1
    [received] = deferring.messages
    assert received.rcpt_tos == [email]
    assert _logged(settings) == [("SignInCodeRequested", "sent", MAX_ATTEMPTS)]
    _signs_in_with(client, received, email)


def test_an_email_deferred_past_every_attempt_is_dead_lettered_and_not_lost(
        client: TestClient, settings: Settings, kafka: EmbeddedKafka) -> None:
    email = "ida@example.org"
    # Deferred for exactly as many attempts as the notifier makes; the next one would pass.
    with smtp_server(reply=451, refuse_first=MAX_ATTEMPTS) as deferring:
        sending = _sending_to(settings, deferring)
        pipeline = LocalDelivery(sending)
        try:
            patient_id = _register(client, email)
            pipeline.deliver_until(lambda: bool(_logged(settings)))
        finally:
            pipeline.close()
        assert deferring.refused == MAX_ATTEMPTS and not deferring.messages
        [(event_type, outcome, attempts)] = _logged(settings)
        assert (event_type, outcome, attempts) == ("SignInCodeRequested", "dead-lettered",
                                                   MAX_ATTEMPTS)

        prefix = settings.kafka_topic_prefix
        [dead] = read_topic(kafka.bootstrap, f"{prefix}clinic.notify.dlq.v1", 1)
        dead_headers = headers_of(dead)
        assert dead_headers["event_type"] == b"SignInCodeRequested"
        assert dead_headers["dlq_source_topic"] == f"{prefix}clinic.patients.v1".encode()
        assert dead_headers["dlq_attempts"] == str(MAX_ATTEMPTS).encode()
        assert b"451" in dead_headers["dlq_reason"]
        assert email.encode() not in dead_headers["dlq_reason"]  # the server echoed it
        assert dead.key() == patient_id.encode()
        name, record = decode_with_only_the_avsc(dead.value() or b"")
        assert name == "SignInCodeRequested" and str(record["patient_id"]) == patient_id

        # The server has recovered: retrying the dead letters delivers the email, once.
        assert redeliver_dead_letters(sending, idle=3.0) == {"sent": 1}
        [received] = deferring.wait_for(1)
    assert len(deferring.messages) == 1 and received.rcpt_tos == [email]
    _signs_in_with(client, received, email)
