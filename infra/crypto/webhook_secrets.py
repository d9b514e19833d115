"""Webhook signing secrets, sealed at rest like PHI: AES-256-GCM under a data key of the
subscription's own (stored wrapped by the key-encryption key in phi_data_keys, so
`clinic keys rotate` re-wraps it too). Disabling a subscription shreds that key: its secret
is then gone from every copy of the event log (docs/decisions/0060-webhook-subscriptions.md)."""

from __future__ import annotations

from uuid import UUID

from infra.crypto.phi import SHREDDED, PhiCipher


class WebhookSecrets:
    """The SecretBox port (commands/ports/webhooks.py) over the PHI cipher's data keys."""

    def __init__(self, cipher: PhiCipher) -> None:
        self.cipher = cipher

    def seal(self, subject: UUID, secret: str) -> str:
        return self.cipher.seal(subject, secret, _context(subject))

    def open(self, subject: UUID, sealed: str) -> str | None:
        value = self.cipher.open(sealed, _context(subject), subject)
        return None if value is SHREDDED else str(value)

    def shred(self, subject: UUID) -> None:
        self.cipher.shred(subject)


def _context(subject: UUID) -> str:
    return f"webhook-secret:{subject}"
