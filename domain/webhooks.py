"""Webhook subscriptions: a partner's HTTPS endpoint that receives the appointment messages
downstream systems get on Kafka, signed with a secret only the partner and we know.

One aggregate per subscription (who registered it, when, which messages, each rotation of
its secret and its end are events, so every change is in the audit trail), and one registry
of every subscription (the set the dispatcher delivers to, and its limit), saved together
(docs/decisions/0060-webhook-subscriptions.md). The secret itself is never in an event: the
use case seals it (commands/webhooks.py); the aggregate keeps the envelope, opaque here.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError, RuleViolationError

MAX_SUBSCRIPTIONS = 100  # active ones: each message is one delivery per subscription
MAX_URL_LENGTH = 2000
REGISTRY_ID = uuid5(NAMESPACE_URL, "urn:clinic:webhook-registry")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class WebhookEvent(StrEnum):
    """The messages a subscription may ask for: the PHI-free appointment messages of
    `clinic.appointments.v1` (avro/*.avsc), with the same names."""

    appointment_booked = "AppointmentBooked"
    appointment_cancelled = "AppointmentCancelled"
    appointment_rescheduled = "AppointmentRescheduled"
    appointment_checked_in = "AppointmentCheckedIn"
    appointment_completed = "AppointmentCompleted"
    appointment_no_show = "AppointmentNoShow"
    appointment_handed_off = "AppointmentHandedOff"
    visit_discharged = "VisitDischarged"


class WebhookUrlRefusedError(RuleViolationError):
    code = "webhook-url-refused"


class WebhookDisabledError(ConflictError):
    code = "webhook-disabled"


class WebhookLimitError(ConflictError):
    code = "webhook-limit-reached"


class DeliveryNotDeadError(ConflictError):
    """Only a dead delivery (every attempt failed) is sent again on request."""

    code = "delivery-not-dead"


def require_deliverable_url(url: str, *, allow_loopback: bool) -> str:
    """An https URL with a host, no credentials and no fragment. Loopback hosts only where
    allowed (development: a receiver on this machine); plain http never."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 0x21 for c in url):
        raise WebhookUrlRefusedError("a webhook URL is at most 2000 characters, without "
                                     "spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise WebhookUrlRefusedError("the webhook URL could not be read") from None
    if parts.scheme != "https":
        raise WebhookUrlRefusedError("a webhook URL must be https (the body is signed, and "
                                     "TLS keeps it private on the way)")
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise WebhookUrlRefusedError("a webhook URL needs a host, and no user, password or "
                                     "fragment")
    if not allow_loopback and _loopback(host):
        raise WebhookUrlRefusedError("a webhook URL may name this machine only in "
                                     "development mode")
    return url


def _loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


class WebhookSubscription(Aggregate):
    class Registered(Aggregate.Created):
        url: str
        events: list[str]
        sealed_secret: str  # the signing secret, sealed (never the secret itself)

    class SecretRotated(Aggregate.Event):
        sealed_secret: str

    class Disabled(Aggregate.Event):
        pass

    @event(Registered)
    def __init__(self, url: str, events: list[str], sealed_secret: str,
                 id: UUID | None = None) -> None:
        self.url = url
        self.events = sorted(set(events))
        self.sealed_secret = sealed_secret
        self.active = True

    @classmethod
    def register(cls, subscription_id: UUID, url: str, events: list[WebhookEvent],
                 sealed_secret: str, *, allow_loopback: bool) -> WebhookSubscription:
        if not events:
            raise RuleViolationError("name at least one message type in `events`")
        require_deliverable_url(url, allow_loopback=allow_loopback)
        return cls(url=url, events=[e.value for e in events], sealed_secret=sealed_secret,
                   id=subscription_id)

    def wants(self, message_type: str) -> bool:
        return self.active and message_type in self.events

    def rotate_secret(self, sealed_secret: str) -> None:
        self.require_active()
        self._rotate(sealed_secret)

    @event(SecretRotated)
    def _rotate(self, sealed_secret: str) -> None:
        self.sealed_secret = sealed_secret

    def disable(self) -> bool:
        """End the subscription; False if it had ended already (nothing recorded)."""
        if not self.active:
            return False
        self._disable()
        return True

    @event(Disabled)
    def _disable(self) -> None:
        self.active = False

    def require_active(self) -> None:
        if not self.active:
            raise WebhookDisabledError(f"webhook {self.id} is disabled")


class WebhookRegistry(Aggregate):
    """Every subscription ever registered, and which are active: what the dispatcher reads,
    and the limit on active ones. One per deployment (REGISTRY_ID)."""

    class Started(Aggregate.Created):
        pass

    class Added(Aggregate.Event):
        subscription_id: UUID

    class Removed(Aggregate.Event):
        subscription_id: UUID

    @event(Started)
    def __init__(self, id: UUID | None = None) -> None:
        self.subscriptions: list[UUID] = []  # every one, oldest first
        self.active: list[UUID] = []

    @classmethod
    def start(cls) -> WebhookRegistry:
        return cls(id=REGISTRY_ID)

    def add(self, subscription_id: UUID) -> None:
        if len(self.active) >= MAX_SUBSCRIPTIONS:
            raise WebhookLimitError(f"at most {MAX_SUBSCRIPTIONS} webhooks may be active: "
                                    "disable one first")
        self._add(subscription_id)

    @event(Added)
    def _add(self, subscription_id: UUID) -> None:
        self.subscriptions.append(subscription_id)
        self.active.append(subscription_id)

    def remove(self, subscription_id: UUID) -> None:
        if subscription_id in self.active:
            self._remove(subscription_id)

    @event(Removed)
    def _remove(self, subscription_id: UUID) -> None:
        self.active.remove(subscription_id)
