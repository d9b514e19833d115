"""Signed checkpoints of the event log's Merkle tree, in the C2SP formats.

A checkpoint (c2sp.org/tlog-checkpoint) is a signed note (c2sp.org/signed-note): the body is
three lines — origin, tree size, base64 root hash — and a signature line
"— <key name> <base64(key id || Ed25519 signature of the body)>". The verifier key is the
text "<key name>+<key id hex>+<base64(0x01 || public key)>": publish it, keep checkpoints
outside the database, and anyone can check them with any C2SP-aware tool or the few lines in
docs/compliance.md.
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
DASH = "\u2014 "


class InvalidCheckpointError(Exception):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


class CheckpointSigner:
    def __init__(self, seed: bytes, name: str) -> None:
        if len(seed) != 32:
            raise ValueError("the audit signing key is 32 bytes (base64)")
        if not name or any(c in name for c in " +\n"):
            raise ValueError("the key name has no spaces, plus signs or line breaks")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = _key_id(name, self.public)

    def sign(self, checkpoint: Checkpoint) -> str:
        body = checkpoint.body()
        signature = self._key.sign(body.encode())
        return f"{body}\n{DASH}{self.name} {base64.b64encode(self.key_id + signature).decode()}\n"

    def verifier_key(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(ED25519 + self.public).decode()}"


def open_checkpoint(note: str, verifier_key: str) -> Checkpoint:
    """The checkpoint in a signed note, if a signature by `verifier_key` holds; otherwise
    InvalidCheckpointError."""
    name, key_id, public = _parse_verifier_key(verifier_key)
    body, sep, signatures = note.partition("\n\n")
    if not sep or not body:
        raise InvalidCheckpointError("not a signed note (no blank line before signatures)")
    body += "\n"
    verifier = Ed25519PublicKey.from_public_bytes(public)
    for line in signatures.splitlines():
        if not line.startswith(DASH):
            continue
        signer, _, blob = line[len(DASH):].partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            continue
        if signer != name or raw[:4] != key_id:
            continue
        try:
            verifier.verify(raw[4:], body.encode())
        except InvalidSignature:
            raise InvalidCheckpointError("the checkpoint's signature does not verify") from None
        return _parse_body(body)
    raise InvalidCheckpointError(f"the checkpoint carries no signature by {name}")


def _parse_verifier_key(text: str) -> tuple[str, bytes, bytes]:
    try:
        name, key_id_hex, blob = text.strip().split("+")
        raw = base64.b64decode(blob, validate=True)
        key_id = bytes.fromhex(key_id_hex)
    except ValueError:
        raise InvalidCheckpointError("not a verifier key (name+id+base64)") from None
    if raw[:1] != ED25519 or len(raw) != 33 or key_id != _key_id(name, raw[1:]):
        raise InvalidCheckpointError("not an Ed25519 verifier key, or its id does not match")
    return name, key_id, raw[1:]


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    try:
        origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    except (IndexError, ValueError):
        raise InvalidCheckpointError("the checkpoint body is not origin, size, root") from None
    if not origin or size < 0 or len(root) != 32:
        raise InvalidCheckpointError("the checkpoint body is not origin, size, root")
    return Checkpoint(origin, size, root)
