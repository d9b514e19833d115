"""The audit signing key (Ed25519): it signs the event log's checkpoints and the consent
receipts, so that anyone holding the published verifier key can check either offline.

A verifier key is the C2SP signed-note text "<name>+<key id hex>+<base64(0x01 || public
key)>", the key id being the first four bytes of SHA-256(name || "\\n" || 0x01 || public
key). After a rotation the earlier verifier keys stay trusted (CLINIC_AUDIT_TRUSTED_KEYS):
what they signed still verifies.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"  # the signed-note signature type


class InvalidVerifierKeyError(ValueError):
    pass


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        try:
            name, id_hex, blob = text.strip().split("+")
            raw = base64.b64decode(blob, validate=True)
            given = bytes.fromhex(id_hex)
        except ValueError:
            raise InvalidVerifierKeyError("not a verifier key (name+id+base64)") from None
        if raw[:1] != ED25519 or len(raw) != 33 or given != key_id(name, raw[1:]):
            raise InvalidVerifierKeyError(
                "not an Ed25519 verifier key, or its id does not match")
        return cls(name, given, raw[1:])

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(ED25519 + self.public).decode()}"


class AuditSigner:
    def __init__(self, seed: bytes, name: str) -> None:
        if len(seed) != 32:
            raise ValueError("the audit signing key is 32 bytes (base64)")
        if not name or any(c in name for c in " +\n"):
            raise ValueError("the key name has no spaces, plus signs or line breaks")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = VerifierKey(name, key_id(name, public), public)
        self.name, self.key_id = name, self.verifier.key_id

    def signature(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def verifier_key(self) -> str:
        return str(self.verifier)
