"""Webhooks end to end: an admin registers a real local HTTPS receiver (its certificate from a
throwaway CA the dispatcher trusts through CLINIC_WEBHOOK_CA_FILE); a visit is discharged over
HTTP; the relay publishes to a real Kafka broker; the dispatcher (its own consumer group)
delivers. A receiver that fails twice gets the message on the third attempt, signed with the
secret the registration answered; one that always fails ends dead, and the retry endpoint
sends it again; a message read again (a restart, another group) is not sent twice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.access import Role
from infra.embedded.kafka import EmbeddedKafka
from infra.settings import Settings
from infra.webhooks.dispatcher import WebhookDispatcher
from infra.webhooks.signing import verify
from infra.wiring.container import Container
from infra.wiring.relay import build_relay
from infra.wiring.webhooks import build_dispatcher
from tests.e2e.clinic_flow import open_slots, set_up_clinic, sign_up
from tests.harness.certs import TlsFiles, make_tls_files
from tests.harness.https_receiver import https_receiver

MAX_ATTEMPTS = 3


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
def settings(settings: Settings, kafka: EmbeddedKafka, tls: TlsFiles) -> Settings:
    return settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "kafka_topic_prefix": f"{settings.db_schema}.",
        "webhook_group": f"webhooks-{settings.db_schema}", "webhook_ca_file": tls.ca,
        "webhook_max_attempts": MAX_ATTEMPTS, "webhook_backoff_seconds": 0.05,
        "webhook_timeout_seconds": 5.0})


class Pipeline:
    """The relay and the dispatcher, stepped in the test's thread."""

    def __init__(self, settings: Settings) -> None:
        self.relay, relay_resources = build_relay(settings)
        self.dispatcher, resources = build_dispatcher(settings)
        self.resources: list[Any] = [*relay_resources, *resources]

    def until(self, done: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "not delivered in time"
            self.relay.catch_up()
            self.dispatcher.run_once(0.2)

    def close(self) -> None:
        for resource in self.resources:
            resource.close()


@pytest.fixture
def pipeline(settings: Settings, container: Container) -> Iterator[Pipeline]:
    running = Pipeline(settings)
    yield running
    running.close()


def _admin(token_for: Any) -> dict[str, str]:
    headers: dict[str, str] = token_for(Role.admin, "ops@clinic")
    return headers


def _register(client: TestClient, token_for: Any, url: str, events: list[str]) -> dict[str, Any]:
    created = client.post("/webhooks", headers=_admin(token_for),
                          json={"url": url, "events": events})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body: dict[str, Any] = created.json()
    assert body["secret"].startswith("whsec_")
    return body


def _discharged_visit(client: TestClient, container: Container, token_for: Any,
                      project: Any) -> str:
    ids = set_up_clinic(client, token_for)
    project()
    slot = open_slots(client, ids["checkup"])[2]
    _, ana = sign_up(client, container, "ana@example.org")
    visit: str = client.post("/bookings", headers=ana, json={"slot_id": slot["id"]}).json()["id"]
    staff = token_for(Role.front_desk, "fd-1", clinics=[ids["clinic"]])
    for step in ("check-in", "complete"):
        assert client.post(f"/bookings/{visit}/{step}", headers=staff).status_code == 200
    done = client.post(f"/bookings/{visit}/discharge", headers=staff,
                       json={"summary_ref": "https://ehr.example.org/docs/D-secret-77"})
    assert done.status_code == 200, done.text
    return visit


def _partner_verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """docs/webhooks.md's verification example, as a partner would write it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
    return fresh and any(hmac.compare_digest(expected, s.split(",", 1)[1])
                         for s in headers["webhook-signature"].split())


def _deliveries(client: TestClient, headers: dict[str, str], **query: str) -> list[Any]:
    page = client.get("/webhooks/deliveries", headers=headers, params=query)
    assert page.status_code == 200, page.text
    deliveries: list[Any] = page.json()["deliveries"]
    return deliveries


def test_a_receiver_failing_twice_gets_the_signed_message_on_the_third_attempt(
        client: TestClient, container: Container, token_for: Any, project: Any,
        tls: TlsFiles, pipeline: Pipeline, settings: Settings) -> None:
    with https_receiver(tls, [500, 500], then=200) as receiver:
        hook = _register(client, token_for, receiver.url, ["VisitDischarged"])
        visit = _discharged_visit(client, container, token_for, project)
        pipeline.until(lambda: bool(receiver.delivered()))
        for _ in range(3):  # nothing else may arrive
            pipeline.relay.catch_up()
            pipeline.dispatcher.run_once(0.2)

    assert [r.answered for r in receiver.received] == [500, 500, 200]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message
    [arrived] = receiver.delivered()
    assert arrived.path == "/hooks/clinic"
    assert arrived.headers["content-type"] == "application/json"
    assert _partner_verifies(hook["secret"], arrived.headers, arrived.body)
    assert verify(hook["secret"], arrived.headers, arrived.body, time.time())
    assert not verify(hook["secret"], arrived.headers, arrived.body + b" ", time.time())
    document = json.loads(arrived.body)
    assert document["type"] == "VisitDischarged" and document["id"] == arrived.headers[
        "webhook-id"]
    assert document["data"]["appointment_id"] == visit
    assert b"D-secret-77" not in arrived.body and b"Ana" not in arrived.body

    [logged] = _deliveries(client, _admin(token_for), webhook_id=hook["webhook_id"])
    assert (logged["status"], logged["attempts"], logged["message_type"]) == (
        "delivered", 3, "VisitDischarged")
    assert [a["http_status"] for a in logged["attempt_log"]] == [500, 500, 200]
    assert logged["attempt_log"][0]["excerpt"] == "receiver is failing on purpose"
    compliance = token_for(Role.compliance, "co-1")
    assert len(_deliveries(client, compliance, status="delivered")) == 1
    assert client.get("/webhooks", headers=compliance).status_code == 403
    listed = client.get("/webhooks", headers=_admin(token_for)).json()["webhooks"]
    assert [w["webhook_id"] for w in listed] == [hook["webhook_id"]]
    assert "secret" not in listed[0] and hook["secret"] not in json.dumps(listed)
    _secret_is_sealed(container, hook["secret"])


def _secret_is_sealed(container: Container, secret: str) -> None:
    with container.pool.connection() as conn:
        [(found,)] = conn.execute("SELECT count(*) FROM clinic_events WHERE "
                                  "position(%s IN state) > 0", (secret.encode(),)).fetchall()
    assert found == 0


def test_a_receiver_that_always_fails_ends_dead_and_is_sent_again_on_request(
        client: TestClient, container: Container, token_for: Any, project: Any,
        tls: TlsFiles, pipeline: Pipeline, settings: Settings) -> None:
    admin = _admin(token_for)
    with https_receiver(tls, [], then=503) as receiver:
        hook = _register(client, token_for, receiver.url, ["VisitDischarged"])
        _discharged_visit(client, container, token_for, project)
        pipeline.until(lambda: _statuses(client, admin) == ["dead"])
        assert [r.answered for r in receiver.received] == [503] * MAX_ATTEMPTS
        [dead] = _deliveries(client, admin, status="dead")
        assert dead["webhook_id"] == hook["webhook_id"] and dead["attempts"] == MAX_ATTEMPTS

        again = client.post(f"/webhooks/deliveries/{dead['delivery_id']}/retry", headers=admin)
        assert again.status_code == 202, again.text
        twice = client.post(f"/webhooks/deliveries/{dead['delivery_id']}/retry", headers=admin)
        assert twice.status_code == 409 and twice.json()["error"] == "delivery-not-dead"
        receiver.answering(200)  # the partner fixed their side
        pipeline.until(lambda: _statuses(client, admin) == ["delivered"])
    [arrived] = receiver.delivered()
    assert _partner_verifies(hook["secret"], arrived.headers, arrived.body)
    [logged] = _deliveries(client, admin)
    assert logged["attempts"] == MAX_ATTEMPTS + 1 and logged["requeued_by"] == "ops@clinic"
    assert client.post(f"/webhooks/deliveries/{dead['delivery_id']}/retry",
                       headers=admin).status_code == 409


def test_a_partner_answering_410_gone_is_unsubscribed_at_once(
        client: TestClient, container: Container, token_for: Any, project: Any,
        tls: TlsFiles, pipeline: Pipeline, settings: Settings) -> None:
    admin = _admin(token_for)
    with https_receiver(tls, [], then=410) as receiver:
        hook = _register(client, token_for, receiver.url, ["VisitDischarged"])
        _discharged_visit(client, container, token_for, project)
        pipeline.until(lambda: _statuses(client, admin) == ["dead"])
        assert [r.answered for r in receiver.received] == [410]  # no retry after a 410
        read = client.get(f"/webhooks/{hook['webhook_id']}", headers=admin)
        assert read.status_code == 200 and read.json()["active"] is False, read.text
        assert pipeline.dispatcher.webhooks.destination(UUID(hook["webhook_id"])) is None
    project()
    timeline = client.get("/audit/timeline", headers=token_for(Role.compliance),
                          params={"record_id": hook["webhook_id"]}).json()["items"]
    assert any(item["actor"] == "webhooks" and "disabled" in item["description"]
               for item in timeline), timeline


def _statuses(client: TestClient, admin: dict[str, str]) -> list[str]:
    return [d["status"] for d in _deliveries(client, admin)]


def test_a_message_read_again_is_not_sent_twice_and_a_disabled_webhook_gets_nothing(
        client: TestClient, container: Container, token_for: Any, project: Any,
        tls: TlsFiles, pipeline: Pipeline, settings: Settings) -> None:
    admin = _admin(token_for)
    with https_receiver(tls, [], then=200) as receiver, \
            https_receiver(tls, [], then=200) as retired:
        _register(client, token_for, receiver.url, ["VisitDischarged"])
        gone = _register(client, token_for, retired.url, ["VisitDischarged"])
        disabled = client.delete(f"/webhooks/{gone['webhook_id']}", headers=admin)
        assert disabled.status_code == 200 and disabled.json()["active"] is False
        assert client.post(f"/webhooks/{gone['webhook_id']}/rotate-secret",
                           headers=admin).json()["error"] == "webhook-disabled"
        _discharged_visit(client, container, token_for, project)
        pipeline.until(lambda: bool(receiver.delivered()))

        # The dispatcher restarted with a new consumer group reads every message again.
        pipeline.dispatcher.source.close()
        again = settings.model_copy(update={"webhook_group": f"again-{settings.db_schema}"})
        reread, resources = build_dispatcher(again)
        try:
            assert _reads_everything_again(reread) > 0
        finally:
            for resource in resources:
                resource.close()
    assert len(receiver.received) == 1 and not retired.received
    assert len(_deliveries(client, admin)) == 1
    assert receiver.received[0].headers["webhook-id"] == _deliveries(client, admin)[0][
        "message_id"]
    # Who registered, rotated and disabled which webhook is in the audit timeline.
    timeline = client.get("/audit/timeline", headers=token_for(Role.compliance, "co-1"),
                          params={"record_id": gone["webhook_id"]})
    assert timeline.status_code == 200, timeline.text
    changes = [(i["event"], i["actor"], i["description"]) for i in timeline.json()["items"]
               if i["kind"] == "change"]
    assert ("WebhookSubscription.Registered", "ops@clinic",
            "registered a webhook to 127.0.0.1 for VisitDischarged") in changes
    assert ("WebhookSubscription.Disabled", "ops@clinic", "disabled the webhook") in changes


def _reads_everything_again(dispatcher: WebhookDispatcher, quiet: float = 3.0) -> int:
    """Messages handled by a fresh consumer group until none came for `quiet` seconds."""
    handled, last = 0, time.monotonic()
    while time.monotonic() - last < quiet:
        if took := dispatcher.run_once(0.3):
            handled, last = handled + took, time.monotonic()
    return handled


def test_a_plain_http_or_unreadable_url_is_refused_with_a_problem(
        client: TestClient, container: Container, token_for: Any) -> None:
    admin = _admin(token_for)
    keys_before = _data_keys(container)
    for url in ("http://partner.example/hooks", "ftp://partner.example", "https://",
                "https://user:pw@partner.example/h", "https://partner.example:99999/"):
        refused = client.post("/webhooks", headers=admin,
                              json={"url": url, "events": ["AppointmentBooked"]})
        assert refused.status_code == 422, (url, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["error"] == "webhook-url-refused"
    unknown = client.post("/webhooks", headers=admin,
                          json={"url": "https://partner.example/h", "events": ["PatientErased"]})
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("validation-error")
    assert client.post("/webhooks", headers=token_for(Role.front_desk, "fd"),
                       json={"url": "https://partner.example/h",
                             "events": ["AppointmentBooked"]}).status_code == 403
    assert client.get("/webhooks", headers=admin).json() == {"webhooks": []}
    assert _data_keys(container) == keys_before  # no key was made for a refused secret


def _data_keys(container: Container) -> int:
    with container.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM phi_data_keys").fetchone()
    assert row is not None
    return int(row[0])


def test_without_kafka_the_dispatcher_follows_the_local_sink_as_clinic_serve_runs_it(
        client: TestClient, container: Container, token_for: Any, project: Any,
        tls: TlsFiles, settings: Settings) -> None:
    """`clinic serve` / `clinic demo` without Kafka: the relay writes the local sink and the
    dispatcher (a follower there) reads it with an offset file of its own. A secret rotated
    before the visit signs its messages; the old one no longer does."""
    local = settings.model_copy(update={"kafka_bootstrap": None, "kafka_topic_prefix": ""})
    relay, relay_resources = build_relay(local)
    dispatcher, resources = build_dispatcher(local)
    try:
        with https_receiver(tls, [], then=204) as receiver:
            hook = _register(client, token_for, receiver.url,
                             ["AppointmentBooked", "VisitDischarged"])
            rotated = client.post(f"/webhooks/{hook['webhook_id']}/rotate-secret",
                                  headers=_admin(token_for))
            assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
            old_secret, hook = hook["secret"], rotated.json()
            assert hook["secret"] != old_secret and hook["secret"].startswith("whsec_")
            _discharged_visit(client, container, token_for, project)
            deadline = time.monotonic() + 30
            while len(receiver.delivered()) < 2:
                assert time.monotonic() < deadline, receiver.received
                relay.catch_up()
                dispatcher.run_once(0.2)
    finally:
        for resource in [*relay_resources, *resources]:
            resource.close()
    types = sorted(json.loads(r.body)["type"] for r in receiver.delivered())
    assert types == ["AppointmentBooked", "VisitDischarged"]
    assert all(_partner_verifies(hook["secret"], r.headers, r.body)
               for r in receiver.delivered())
    assert not any(_partner_verifies(old_secret, r.headers, r.body)
                   for r in receiver.delivered())  # signed with the rotated secret only
    sink = local.resolved_data_dir() / "sink"
    assert (sink / "messages.webhooks-offset").exists()


def test_slow_partners_are_attempted_side_by_side(
        client: TestClient, container: Container, token_for: Any, project: Any,
        tls: TlsFiles, settings: Settings) -> None:
    """Three partners that each take 1.5 s to answer are attempted at once
    (CLINIC_WEBHOOK_CONCURRENCY), not one after another."""
    local = settings.model_copy(update={"kafka_bootstrap": None, "kafka_topic_prefix": "",
                                        "webhook_concurrency": 4})
    relay, relay_resources = build_relay(local)
    dispatcher, resources = build_dispatcher(local)
    try:
        with https_receiver(tls, [], delay=1.5) as one, \
                https_receiver(tls, [], delay=1.5) as two, \
                https_receiver(tls, [], delay=1.5) as three:
            for receiver in (one, two, three):
                _register(client, token_for, receiver.url, ["VisitDischarged"])
            _discharged_visit(client, container, token_for, project)
            relay.catch_up()
            recorded, deadline = 0, time.monotonic() + 30
            while recorded < 3:  # the message's three deliveries recorded, none sent yet
                assert time.monotonic() < deadline
                for incoming, token in dispatcher.source.poll(0.2):
                    recorded += dispatcher.handle(incoming)
                    dispatcher.source.ack(token)
            started = time.monotonic()
            assert dispatcher.deliver_due() == 3
            took = time.monotonic() - started
            assert all(len(r.delivered()) == 1 for r in (one, two, three))
    finally:
        for resource in [*relay_resources, *resources]:
            resource.close()
    assert took < 3.0, took  # one after another: 4.5 s at least
