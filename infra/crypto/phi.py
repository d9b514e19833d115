"""Sealing PHI with the patient's data key: AES-256-GCM, one envelope string per record.

An envelope is `phi1.<subject id hex>.<base64url(nonce + ciphertext)>`; the associated data
names the record it belongs to (an event's originator and version, a read-model row), so an
envelope copied elsewhere does not open. Once the subject's key is shredded, an envelope
opens to `SHREDDED`.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Final
from uuid import UUID

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.privacy import ERASED, PHI
from infra.crypto.datakeys import DataKeys, SubjectErasedError

PREFIX: Final = "phi1"
SEALED_KEY: Final = "__phi__"  # where an event's sealed fields are kept in stored state
SEALED = "[sealed]"  # a PHI field read by a follower that does not open PHI


class _Shredded:
    def __repr__(self) -> str:
        return "SHREDDED"


SHREDDED: Final = _Shredded()


class PhiCipher:
    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys

    def seal(self, subject: UUID, value: Any, context: str) -> str:
        key = self.keys.key_for(subject, create=True)
        assert key is not None
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, orjson.dumps(value), context.encode())
        data = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}.{subject.hex}.{data}"

    def open(self, envelope: str, context: str, subject: UUID | None = None) -> Any:
        """The sealed value, or SHREDDED once the subject's key is gone. With `subject`, the
        envelope must be sealed for that patient (else erasing them would miss it)."""
        prefix, subject_hex, data = envelope.split(".")
        if prefix != PREFIX:
            raise ValueError(f"not a PHI envelope: {prefix}")
        sealed_for = UUID(hex=subject_hex)
        if subject is not None and sealed_for != subject:
            raise ValueError(f"PHI of {subject} sealed with the key of {sealed_for}")
        key = self.keys.key_for(sealed_for, create=False)
        if key is None:
            return SHREDDED
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        return orjson.loads(AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()))

    def open_text(self, envelope: str | None, context: str) -> str:
        """A sealed read-model column: '' when empty, ERASED when shredded. A value written
        before sealing existed is returned as stored (rebuild the read model to seal it)."""
        if not envelope:
            return ""
        if not envelope.startswith(PREFIX + "."):
            return envelope
        value = self.open(envelope, context)
        return ERASED if value is SHREDDED else str(value)

    def shred(self, subject: UUID) -> None:
        self.keys.shred(subject)

    def vacuum(self) -> None:
        self.keys.vacuum()

    def close(self) -> None:
        self.keys.close()

    # Records (event or snapshot state dicts) -----------------------------------------
    def seal_fields(self, state: dict[str, Any], declaration: PHI, subject: Any,
                    context: str) -> None:
        """Move the declared fields of `state` that hold something into one envelope under
        SEALED_KEY (an empty note is not PHI and needs no key). For a patient whose key was
        shredded the values are not kept at all: they read as ERASED, like the rest."""
        values = {f: state.pop(f) for f in sorted(declaration.fields)
                  if state.get(f) not in (None, "")}
        if not values:
            return
        if not isinstance(subject, UUID):
            raise ValueError(f"PHI without a subject ({declaration.subject} is {subject!r})")
        try:
            state[SEALED_KEY] = self.seal(subject, values, context)
        except SubjectErasedError:
            state.update(dict.fromkeys(values, ERASED))

    @staticmethod
    def leave_sealed(state: dict[str, Any], declaration: PHI) -> None:
        """For readers that never need PHI: the fields read as SEALED, nothing is decrypted."""
        if state.pop(SEALED_KEY, None) is not None:
            for field in declaration.fields:
                state.setdefault(field, SEALED)

    def open_fields(self, state: dict[str, Any], declaration: PHI, subject: Any,
                    context: str) -> None:
        """Put the sealed fields back; after shredding they read as ERASED."""
        envelope = state.pop(SEALED_KEY, None)
        if envelope is None:
            return  # nothing sealed (empty), or written before sealing existed
        values = self.open(envelope, context, subject if isinstance(subject, UUID) else None)
        if values is SHREDDED:
            values = {f: ERASED for f in declaration.fields if f not in state}
        state.update(values)
