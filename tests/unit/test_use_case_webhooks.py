"""Webhook subscriptions called as a door calls them, without FastAPI or a server: the
signing secret is answered once and stored only sealed, URLs are refused by the policy,
rotation and disabling change what the dispatcher signs with, and only a dead delivery is
sent again (docs/webhooks.md). Secrets and the delivery log are kept in memory
(tests/fakes.py)."""

from __future__ import annotations

import uuid

import pytest

from commands.context import Actor
from commands.use_cases import Policy, UseCases
from commands.webhooks import SECRET_PREFIX, WebhookCreate
from domain.access import Role
from domain.errors import NotFoundError
from domain.webhooks import (
    REGISTRY_ID,
    DeliveryNotDeadError,
    WebhookDisabledError,
    WebhookEvent,
    WebhookRegistry,
    WebhookSubscription,
    WebhookUrlRefusedError,
)
from tests.fakes import KeptDeliveries, SealedSecrets, in_memory_use_cases

ADMIN = Actor("ops", Role.admin, request_id="req-hook")
BOOKED = [WebhookEvent.appointment_booked]


@pytest.fixture
def uc() -> UseCases:
    return in_memory_use_cases()


def _box(uc: UseCases) -> SealedSecrets:
    assert isinstance(uc.webhooks.box, SealedSecrets)
    return uc.webhooks.box


def _stored(uc: UseCases, subscription_id: uuid.UUID) -> WebhookSubscription:
    return uc.webhooks.app.get(WebhookSubscription, subscription_id, "webhook")


def test_a_secret_is_answered_once_and_stored_only_sealed(uc: UseCases) -> None:
    made = uc.webhooks.register(WebhookCreate(url="https://partner.example/hooks",
                                              events=BOOKED), ADMIN)
    assert made.secret.startswith(SECRET_PREFIX) and made.active
    assert (made.url, made.events) == ("https://partner.example/hooks", ["AppointmentBooked"])
    sealed = _stored(uc, made.webhook_id).sealed_secret
    assert made.secret not in sealed and made.secret[len(SECRET_PREFIX):] not in sealed
    assert _box(uc).open(made.webhook_id, sealed) == made.secret
    read = uc.webhooks.read(made.webhook_id)
    assert "secret" not in read.model_dump() and read.webhook_id == made.webhook_id
    other = uc.webhooks.register(WebhookCreate(url="https://other.example/in",
                                               events=BOOKED), ADMIN)
    assert other.secret != made.secret
    assert [w.webhook_id for w in uc.webhooks.every().webhooks] == [other.webhook_id,
                                                                     made.webhook_id]
    assert {(d.subscription_id, d.secret) for d in uc.webhooks.destinations()} == {
        (made.webhook_id, made.secret), (other.webhook_id, other.secret)}


@pytest.mark.parametrize("url", [
    "http://partner.example/hooks", "https://localhost/hooks", "https://127.0.0.1:8443/h",
    "https://[::1]/h", "https://user:pw@partner.example/h", "https://partner.example/h#x"])
def test_urls_the_policy_refuses_leave_nothing_behind(uc: UseCases, url: str) -> None:
    with pytest.raises(WebhookUrlRefusedError):
        uc.webhooks.register(WebhookCreate(url=url, events=BOOKED), ADMIN)
    assert uc.webhooks.every().webhooks == [] and _box(uc).keys == {}
    assert uc.webhooks.app.find(WebhookRegistry, REGISTRY_ID) is None


def test_loopback_is_allowed_only_by_a_development_policy_and_plain_http_never() -> None:
    dev = in_memory_use_cases(policy=Policy(webhook_loopback=True))
    made = dev.webhooks.register(WebhookCreate(url="https://127.0.0.1:8443/h",
                                               events=BOOKED), ADMIN)
    assert made.active
    with pytest.raises(WebhookUrlRefusedError):
        dev.webhooks.register(WebhookCreate(url="http://127.0.0.1:8443/h", events=BOOKED),
                              ADMIN)


def test_rotation_changes_the_secret_and_disabling_ends_deliveries(uc: UseCases) -> None:
    made = uc.webhooks.register(WebhookCreate(url="https://partner.example/hooks",
                                              events=BOOKED), ADMIN)
    rotated = uc.webhooks.rotate_secret(made.webhook_id, ADMIN)
    assert rotated.secret.startswith(SECRET_PREFIX) and rotated.secret != made.secret
    destination = uc.webhooks.destination(made.webhook_id)
    assert destination is not None and destination.secret == rotated.secret

    disabled = uc.webhooks.disable(made.webhook_id, ADMIN)
    assert not disabled.active and not uc.webhooks.read(made.webhook_id).active
    assert uc.webhooks.destinations() == []
    assert uc.webhooks.destination(made.webhook_id) is None
    assert _box(uc).open(made.webhook_id, _stored(uc, made.webhook_id).sealed_secret) is None
    with pytest.raises(WebhookDisabledError):
        uc.webhooks.rotate_secret(made.webhook_id, ADMIN)
    version = _stored(uc, made.webhook_id).version
    assert not uc.webhooks.disable(made.webhook_id, ADMIN).active  # again: nothing recorded
    assert _stored(uc, made.webhook_id).version == version
    assert [w.active for w in uc.webhooks.every().webhooks] == [False]  # listed, ended


def test_an_unknown_webhook_is_not_found(uc: UseCases) -> None:
    for act in (uc.webhooks.read, lambda i: uc.webhooks.rotate_secret(i, ADMIN),
                lambda i: uc.webhooks.disable(i, ADMIN)):
        with pytest.raises(NotFoundError):
            act(uuid.uuid4())
    assert uc.webhooks.destination(uuid.uuid4()) is None


def test_only_a_dead_delivery_is_sent_again(uc: UseCases) -> None:
    log = uc.webhooks.deliveries
    assert isinstance(log, KeptDeliveries)
    dead, delivered = uuid.uuid4(), uuid.uuid4()
    log.status.update({dead: "dead", delivered: "delivered"})
    with pytest.raises(NotFoundError):
        uc.webhooks.redeliver(uuid.uuid4(), ADMIN)
    with pytest.raises(DeliveryNotDeadError):
        uc.webhooks.redeliver(delivered, ADMIN)
    uc.webhooks.redeliver(dead, ADMIN)
    assert (log.status[dead], log.requeued_by[dead]) == ("pending", "ops")
    with pytest.raises(DeliveryNotDeadError):  # pending now
        uc.webhooks.redeliver(dead, ADMIN)
    assert log.status[delivered] == "delivered"
