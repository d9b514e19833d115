"""Key-encryption keys (KEKs): the configured current key and earlier ones kept for rotation.

A KEK never encrypts PHI itself; it wraps the per-patient data keys (AES-256-GCM, the
subject's id as associated data, so a wrapped key cannot be moved to another patient). Each
KEK is known by an id derived from it, stored beside every key it wrapped: a wrong or missing
KEK is detected at start-up, not at the first read.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class KeyEncryptionKeyError(Exception):
    """The configured key-encryption keys cannot unwrap the stored data keys."""


def kek_id(kek: bytes) -> str:
    return hashlib.sha256(b"clinic:kek-id:" + kek).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    current: bytes
    previous: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        for key in (self.current, *self.previous):
            if len(key) != 32:
                raise KeyEncryptionKeyError("a key-encryption key must be 32 bytes")

    @property
    def current_id(self) -> str:
        return kek_id(self.current)

    def known_ids(self) -> set[str]:
        return {kek_id(k) for k in (self.current, *self.previous)}

    def wrap(self, subject: UUID, data_key: bytes) -> tuple[str, bytes]:
        """(kek id, nonce + ciphertext) of a data key, under the current KEK."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.current).encrypt(nonce, data_key, _aad(subject))
        return self.current_id, nonce + sealed

    def unwrap(self, subject: UUID, key_id: str, wrapped: bytes) -> bytes:
        kek = self._by_id(key_id)
        try:
            return AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                       _aad(subject))
        except InvalidTag:
            raise KeyEncryptionKeyError(
                f"the data key of {subject} does not open with key-encryption key {key_id}: "
                "the key or the stored data key is wrong") from None

    def _by_id(self, key_id: str) -> bytes:
        for key in (self.current, *self.previous):
            if kek_id(key) == key_id:
                return key
        raise KeyEncryptionKeyError(
            f"key-encryption key {key_id} is not configured (current: {self.current_id}); "
            "set CLINIC_PHI_KEK to it, or list it in CLINIC_PHI_KEK_PREVIOUS and run "
            "`clinic keys rotate`")


def _aad(subject: UUID) -> bytes:
    return b"clinic:data-key:" + subject.bytes
