"""Webhook subscriptions: register one (its signing secret answered once), read them, rotate
a secret, disable one; and, for the dispatcher, where a message goes and with which secret.

The secret is made here, sealed through the SecretBox port before it reaches an event, and
shown to the admin only in the answer that made it (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from commands.application import ClinicApplication, found
from commands.context import Actor, acting_as
from commands.models import Strict
from commands.ports import SecretBox, WebhookDeliveryLog
from domain.errors import ConflictError, NotFoundError
from domain.webhooks import (
    MAX_URL_LENGTH,
    REGISTRY_ID,
    DeliveryNotDeadError,
    WebhookEvent,
    WebhookRegistry,
    WebhookSubscription,
    require_deliverable_url,
)

SECRET_PREFIX = "whsec_"  # Standard Webhooks: the base64 of the key bytes follows


class WebhookCreate(Strict):
    url: Annotated[str, Field(max_length=MAX_URL_LENGTH, examples=["https://partner.example/hooks"],
                              description="https only (development: also this machine)")]
    events: Annotated[list[WebhookEvent], Field(min_length=1, max_length=20)]


class WebhookPublic(BaseModel):
    webhook_id: UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    modified_at: datetime


class WebhookWithSecret(WebhookPublic):
    secret: str = Field(description="The signing secret (`whsec_` + base64): shown this once; "
                        "store it where your receiver can read it")


class WebhookList(BaseModel):
    webhooks: list[WebhookPublic]


@dataclass(frozen=True)
class Destination:
    """Where one subscription's deliveries go, and the secret they are signed with."""

    subscription_id: UUID
    url: str
    secret: str
    events: frozenset[str]
    since: datetime  # registered then: messages of events before it are not for it


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class Webhooks:
    def __init__(self, app: ClinicApplication, box: SecretBox | None,
                 deliveries: WebhookDeliveryLog | None = None, *,
                 allow_loopback: bool = False) -> None:
        self.app, self.box, self.deliveries = app, box, deliveries
        self.allow_loopback = allow_loopback

    def register(self, command: WebhookCreate, actor: Actor) -> WebhookWithSecret:
        box = self._box()
        subscription_id, secret = uuid4(), new_secret()
        # The rules first: a refused webhook leaves no key behind for its secret.
        require_deliverable_url(command.url, allow_loopback=self.allow_loopback)
        with acting_as(actor.doing("webhook registration")):
            while True:
                registry = self.app.find(WebhookRegistry, REGISTRY_ID) or WebhookRegistry.start()
                registry.add(subscription_id)
                subscription = WebhookSubscription.register(
                    subscription_id, command.url, command.events,
                    box.seal(subscription_id, secret), allow_loopback=self.allow_loopback)
                if self.app.saved(subscription, registry):
                    break  # else another registration changed the registry: read it again
        return WebhookWithSecret(**public(subscription).model_dump(), secret=secret)

    def rotate_secret(self, subscription_id: UUID, actor: Actor) -> WebhookWithSecret:
        """A new secret from now on; the old one signs nothing more."""
        box = self._box()
        secret = new_secret()
        with acting_as(actor.doing("webhook secret rotation")):
            subscription = self._get(subscription_id)
            subscription.require_active()  # a disabled one's key is shredded: nothing seals
            subscription.rotate_secret(box.seal(subscription_id, secret))
            if not self.app.saved(subscription):
                raise ConflictError(f"webhook {subscription_id} changed meanwhile: read it "
                                    "again and rotate again if it is still active")
        return WebhookWithSecret(**public(subscription).model_dump(), secret=secret)

    def disable(self, subscription_id: UUID, actor: Actor) -> WebhookPublic:
        """No delivery from now on, pending ones included; its secret is shredded."""
        with acting_as(actor.doing("webhook disabled")):
            while True:
                loaded = self.app.get_many(subscription_id, REGISTRY_ID)
                subscription = found(loaded, WebhookSubscription, subscription_id, "webhook")
                if not subscription.disable():
                    return public(subscription)
                registry = found(loaded, WebhookRegistry, REGISTRY_ID, "webhook registry")
                registry.remove(subscription_id)
                if self.app.saved(subscription, registry):
                    break
        self._box().shred(subscription_id)
        return public(subscription)

    def read(self, subscription_id: UUID) -> WebhookPublic:
        return public(self._get(subscription_id))

    def every(self) -> WebhookList:
        registry = self.app.find(WebhookRegistry, REGISTRY_ID)
        if registry is None:
            return WebhookList(webhooks=[])
        loaded = self.app.get_many(*registry.subscriptions)
        return WebhookList(webhooks=[public(loaded[i]) for i in reversed(registry.subscriptions)
                                     if isinstance(loaded.get(i), WebhookSubscription)])

    def redeliver(self, delivery_id: UUID, actor: Actor) -> None:
        """A dead letter goes out again, with a fresh round of attempts (its cause fixed)."""
        if self.deliveries is None:
            raise RuntimeError("redelivery needs the webhook delivery log")
        status = self.deliveries.redeliver(delivery_id, actor.subject)
        if status is None:
            raise NotFoundError(f"no webhook delivery with id {delivery_id}")
        if status != "dead":
            raise DeliveryNotDeadError(f"delivery {delivery_id} is {status}: only a dead "
                                       "delivery is sent again")

    # The dispatcher's reads ----------------------------------------------------------------
    def destinations(self) -> list[Destination]:
        """Every active subscription with its secret, read from the event store (no lag)."""
        registry = self.app.find(WebhookRegistry, REGISTRY_ID)
        if registry is None or not registry.active:
            return []
        loaded = self.app.get_many(*registry.active)
        return [d for i in registry.active if (d := self._destination(loaded.get(i)))]

    def destination(self, subscription_id: UUID) -> Destination | None:
        """The subscription if it is still active, with its current secret."""
        return self._destination(self.app.find(WebhookSubscription, subscription_id))

    def _destination(self, subscription: WebhookSubscription | None) -> Destination | None:
        if subscription is None or not subscription.active:
            return None
        secret = self._box().open(subscription.id, subscription.sealed_secret)
        if secret is None:
            return None
        return Destination(subscription.id, subscription.url, secret,
                           frozenset(subscription.events), subscription.created_on)

    def _get(self, subscription_id: UUID) -> WebhookSubscription:
        return self.app.get(WebhookSubscription, subscription_id, "webhook")

    def _box(self) -> SecretBox:
        if self.box is None:
            raise RuntimeError("webhook secrets need a SecretBox adapter")
        return self.box


def public(subscription: WebhookSubscription) -> WebhookPublic:
    return WebhookPublic(webhook_id=subscription.id, url=subscription.url,
                         events=list(subscription.events), active=subscription.active,
                         created_at=subscription.created_on,
                         modified_at=subscription.modified_on)
