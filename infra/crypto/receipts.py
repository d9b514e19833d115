"""Consent receipts signed with a key of their own (HMAC-SHA256 over canonical JSON)."""

from __future__ import annotations

import hmac
import json
from typing import Any

from infra.crypto.derived_keys import keyed_hash


class HmacReceiptSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, receipt: dict[str, Any]) -> str:
        canonical = json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()
        return keyed_hash(self._key, canonical)

    def verify(self, receipt: dict[str, Any], signature: str) -> bool:
        return hmac.compare_digest(self.sign(receipt), signature)
