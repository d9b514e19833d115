"""One booking is one trace, from the HTTP request to the email: the request's server span,
the event store write under it, the relay's publish span (a child of the context stored with
the event), the notifier's process span (a child of the publish span, through the Kafka
headers) and the SMTP send span under that. Real PostgreSQL, Redis, Kafka and SMTP; spans
are captured in memory after the same redaction as the OTLP export. No span of a
registration, booking and telehealth join carries PHI or a credential, and the log lines of
the request carry its trace id."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from infra.embedded.kafka import EmbeddedKafka
from infra.observability.logging import configure_logging
from infra.observability.tracing import configure_tracing, shutdown_tracing
from infra.settings import Settings
from projections.notifications.emails import find_sign_in_code
from tests.delivery import LocalDelivery
from tests.e2e.clinic_flow import open_slots, set_up_clinic
from tests.e2e.test_messaging_flow import _emails_to
from tests.harness.smtp import SmtpServer


@pytest.fixture(autouse=True)
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on before anything connects (autouse: before the container and the app)."""
    exporter = InMemorySpanExporter()
    assert configure_tracing("test", exporter=exporter, env={})
    yield exporter
    shutdown_tracing()


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka, smtp: SmtpServer) -> Settings:
    return settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "kafka_topic_prefix": f"{settings.db_schema}.",
        "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_starttls": False,
        "notify_backoff_seconds": 0.1, "telehealth_join_early_minutes": 24 * 60})


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[LocalDelivery]:
    running = LocalDelivery(settings)
    yield running
    running.close()


def _person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"given_name": f"Givn{tag}", "family_name": f"Fmly{tag}",
            "email": f"mail{tag}@example.org", "phone": f"+1 555 {int(tag, 16) % 10**7:07d}",
            "birth_date": "1961-07-13", "reason": f"Rsn{tag} chest pain"}


def _register(client: TestClient, smtp: SmtpServer, pipeline: LocalDelivery,
              person: dict[str, str]) -> tuple[str, dict[str, str], str]:
    """Register, take the code from the real SMTP server, verify, consent."""
    registered = client.post("/patients", json={k: person[k] for k in (
        "given_name", "family_name", "birth_date", "email", "phone")})
    assert registered.status_code == 202, registered.text
    pipeline.deliver_until(lambda: bool(_emails_to(smtp, person["email"])))
    code = find_sign_in_code(_emails_to(smtp, person["email"])[-1].message.get_body(
        preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert code is not None
    verified = client.post("/auth/verify", json={"email": person["email"], "code": code})
    assert verified.status_code == 200, verified.text
    access_token = verified.json()["access_token"]
    headers = {"Authorization": f"Bearer {access_token}"}
    policies = {p["purpose"]: p["version"] for p in client.get("/consent-policies").json()}
    patient_id = registered.json()["patient_id"]
    for purpose in ("treatment", "telehealth"):
        assert client.post(f"/patients/{patient_id}/consents", headers=headers, json={
            "purpose": purpose, "policy_version": policies[purpose]}).status_code == 200
    return patient_id, headers, code


def _one(spans: list[ReadableSpan], what: str, **match: Any) -> ReadableSpan:
    found = [s for s in spans if all(
        (getattr(s, k) if k in ("name", "kind") else (s.attributes or {}).get(k)) == v
        for k, v in match.items())]
    assert len(found) == 1, f"{what}: {len(found)} spans match {match}"
    return found[0]


def _book_a_video_visit(client: TestClient, token_for: Any, project: Any, smtp: SmtpServer,
                        pipeline: LocalDelivery, key: str
                        ) -> tuple[dict[str, str], dict[str, str], str, httpx.Response]:
    """A new patient books a video visit; both of their emails (code, confirmation) arrive.
    Returns the person, their headers, their sign-in code and the booking's answer."""
    ids = set_up_clinic(client, token_for, telehealth=True)
    project()
    person = _person()
    _, headers, code = _register(client, smtp, pipeline, person)
    slot = open_slots(client, ids["long"])[0]
    booked = client.post("/bookings", headers={**headers, "Idempotency-Key": key},
                         json={"slot_id": slot["id"], "reason": person["reason"]})
    assert booked.status_code == 201, booked.text
    pipeline.deliver_until(lambda: len(_emails_to(smtp, person["email"])) >= 2)
    return person, headers, code, booked


def _parent_of(span: ReadableSpan) -> int:
    assert span.parent is not None, f"{span.name} has no parent"
    return span.parent.span_id


def test_one_booking_is_one_trace_from_the_request_to_the_email(
        client: TestClient, token_for: Any, project: Any, settings: Settings, smtp: SmtpServer,
        pipeline: LocalDelivery, spans: InMemorySpanExporter,
        capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    _, _, _, booked = _book_a_video_visit(client, token_for, project, smtp, pipeline,
                                          "trace-1")
    request_id = booked.headers["x-request-id"]
    finished = list(spans.get_finished_spans())

    request = _one(finished, "the booking request", name="POST /bookings",
                   kind=SpanKind.SERVER)
    trace_id = request.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    # The event store's write: one call of the insert function that locks the table
    # (infra/eventstore.SingleTripRecorder).
    [write] = [s for s in in_trace if (s.attributes or {}).get("db.system") == "postgresql"
               and "clinic_events_insert" in str((s.attributes or {}).get("db.statement", ""))]
    assert write.kind == SpanKind.CLIENT and _parent_of(write) == request.context.span_id
    topic = f"{settings.kafka_topic_prefix}clinic.appointments.v1"
    publish = _one(in_trace, "the relay's publish", kind=SpanKind.PRODUCER,
                   **{"messaging.destination.name": topic})
    assert _parent_of(publish) == request.context.span_id
    assert publish.attributes is not None
    assert publish.attributes["messaging.system"] == "kafka"
    assert publish.attributes["messaging.operation"] == "publish"
    process = _one(in_trace, "the notifier's process", kind=SpanKind.CONSUMER,
                   **{"messaging.destination.name": topic})
    assert _parent_of(process) == publish.context.span_id
    assert process.attributes is not None and process.attributes["messaging.operation"] == (
        "process")
    send = _one(in_trace, "the SMTP send", name="smtp send")
    assert _parent_of(send) == process.context.span_id
    assert send.attributes is not None and send.attributes["server.port"] == smtp.port
    reads = [s for s in in_trace if _parent_of_or_none(s) == process.context.span_id
             and (s.attributes or {}).get("db.system") == "postgresql"]
    assert reads, "the notifier's database reads belong to the trace too"

    # The log lines: JSON, with the trace and span ids of the span current where logged.
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()
             if line.startswith("{")]
    [logged] = [line for line in lines if line.get("event") == "request"
                and line.get("route") == "/bookings" and line.get("method") == "POST"]
    assert logged["trace_id"] == format(trace_id, "032x")
    assert logged["span_id"] == format(request.context.span_id, "016x")
    assert logged["request_id"] == request_id
    [sent] = [line for line in lines if line.get("event") == "notification sent"
              and line.get("event_type") == "AppointmentBooked"]
    assert sent["trace_id"] == format(trace_id, "032x")
    assert sent["span_id"] == format(process.context.span_id, "016x")
    assert sent["request_id"] == request_id


def _parent_of_or_none(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_no_span_carries_phi_or_a_credential(
        client: TestClient, token_for: Any, project: Any, settings: Settings, smtp: SmtpServer,
        pipeline: LocalDelivery, spans: InMemorySpanExporter) -> None:
    person, headers, code, booked = _book_a_video_visit(client, token_for, project, smtp,
                                                        pipeline, "trace-2")
    link = client.get(f"/appointments/{booked.json()['id']}/join-link", headers=headers)
    assert link.status_code == 200, link.text
    join_token = parse_qs(urlsplit(link.json()["url"]).query)["token"][0]
    assert client.get("/telehealth/join", params={"token": join_token}).status_code == 200
    assert client.get("/telehealth/join", params={"token": join_token[:-8] + "x" * 8}
                      ).status_code == 401
    finished = list(spans.get_finished_spans())
    assert {"POST /patients", "POST /auth/verify", "POST /bookings", "GET /telehealth/join"} <= {
        s.name for s in finished if s.kind == SpanKind.SERVER}
    assert any((s.attributes or {}).get("db.system") == "redis" for s in finished)

    text = "\n".join(_everything(s) for s in finished)
    secrets = {**person, "code": code, "join token": join_token,
               "join signature": join_token.rsplit(".", 1)[1],
               "bearer token": headers["Authorization"].split()[1],
               "jwt secret": settings.jwt_secret.get_secret_value()}
    secrets.pop("birth_date")  # a date: searched as a marker in tests/e2e/test_phi_canary.py
    for what, value in secrets.items():
        assert value not in text, f"{what} is in a span"
    for span in finished:
        attributes = dict(span.attributes or {})
        for key in ("http.url", "url.full", "http.target"):
            assert "?" not in str(attributes.get(key, "")), f"a query string in {span.name}"
        assert not {"url.query", "db.statement.parameters", "client.address", "net.peer.ip",
                    "http.user_agent", "user_agent.original"} & set(attributes), span.name
        assert not any(k.startswith("http.request.header.") for k in attributes), span.name
        if attributes.get("db.system") == "redis":
            assert re.fullmatch(r"[A-Z.]+", str(attributes.get("db.statement", ""))), (
                f"redis arguments in {span.name}: {attributes.get('db.statement')}")


def _everything(span: ReadableSpan) -> str:
    """Every text a span would export: name, attributes, events, status, links."""
    parts = [span.name, repr(dict(span.attributes or {})), span.status.description or ""]
    parts += [f"{e.name} {dict(e.attributes or {})!r}" for e in span.events]
    parts += [repr(dict(link.attributes or {})) for link in span.links]
    return " ".join(parts)
