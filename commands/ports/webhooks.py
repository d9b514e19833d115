"""Webhooks' signing secrets sealed at rest, and their delivery log."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class SecretBox(Protocol):
    """Keeps a secret we must use again (a webhook's signing secret) sealed at rest, under a
    key of its own (infra/crypto/webhook_secrets.py): shredding the key destroys the secret."""

    def seal(self, subject: UUID, secret: str) -> str: ...
    def open(self, subject: UUID, sealed: str) -> str | None:
        """The secret; None once the subject's key was shredded."""

    def shred(self, subject: UUID) -> None: ...


class WebhookDeliveryLog(Protocol):
    """The webhook deliveries as the dispatcher records them (infra/postgres/
    webhook_deliveries.py)."""

    def redeliver(self, delivery: UUID, by: str) -> str | None:
        """Make a dead delivery pending again; the status it had (None: no such delivery)."""
