"""The audit signing key, built from settings: it signs the event log's checkpoints (the
audit_log follower) and the consent receipts (the API), docs/compliance.md."""

from __future__ import annotations

import base64

from infra.crypto.audit_keys import AuditSigner
from infra.postgres.audit_log import AuditConfig
from infra.settings import Settings


def audit_signer(settings: Settings) -> AuditSigner:
    try:
        seed = base64.b64decode(settings.audit_signing_key.get_secret_value(), validate=True)
    except ValueError:
        raise ValueError("CLINIC_AUDIT_SIGNING_KEY is not base64") from None
    return AuditSigner(seed, settings.audit_key_name)


def audit_verifier_keys(settings: Settings) -> list[str]:
    """The current verifier key, then the earlier ones still trusted (after a rotation)."""
    return [audit_signer(settings).verifier_key(), *settings.audit_trusted_keys]


def audit_config(settings: Settings) -> AuditConfig:
    """How the event log's checkpoints are signed, and how often (docs/compliance.md)."""
    return AuditConfig(audit_signer(settings), settings.audit_origin,
                       settings.audit_checkpoint_events, settings.audit_checkpoint_seconds)
