"""Consent receipts signed with the audit signing key (Ed25519), so that a patient, a
regulator or a partner can check one offline with the published verifier key
(docs/compliance/verify_receipt.py). The signature covers a fixed context line and the
receipt's canonical JSON (keys sorted, no spaces; every value is ASCII, so this is also its
RFC 8785 form); receipts signed before a key rotation verify with the keys still trusted.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from commands.ports import Signature
from infra.crypto.audit_keys import AuditSigner, VerifierKey

CONTEXT = b"clinic-booking consent receipt v1\n"  # never a checkpoint, never another document


def signed_bytes(receipt: dict[str, Any]) -> bytes:
    return CONTEXT + json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()


class Ed25519Receipts:
    def __init__(self, signer: AuditSigner, trusted: Sequence[str] = ()) -> None:
        self.signer = signer
        keys = [signer.verifier, *(VerifierKey.parse(text) for text in trusted)]
        self.keys = {key.key_id.hex(): key for key in keys}

    def sign(self, receipt: dict[str, Any]) -> Signature:
        value = self.signer.signature(signed_bytes(receipt))
        return Signature(self.signer.key_id.hex(), base64.b64encode(value).decode())

    def verify(self, receipt: dict[str, Any], signature: Signature) -> bool:
        key = self.keys.get(signature.key_id)
        try:
            value = base64.b64decode(signature.value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return key is not None and key.verifies(signed_bytes(receipt), value)

    def verifier_keys(self) -> list[str]:
        return [str(key) for key in self.keys.values()]
