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
from dataclasses import dataclass

from infra.crypto.audit_keys import AuditSigner, InvalidVerifierKeyError, VerifierKey

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


def sign_checkpoint(signer: AuditSigner, checkpoint: Checkpoint) -> str:
    body = checkpoint.body()
    signature = signer.signature(body.encode())
    return (f"{body}\n{DASH}{signer.name} "
            f"{base64.b64encode(signer.key_id + signature).decode()}\n")


def open_checkpoint(note: str, *verifier_keys: str) -> Checkpoint:
    """The checkpoint in a signed note, if a signature by one of `verifier_keys` (the current
    key and those trusted from before a rotation) holds; otherwise InvalidCheckpointError."""
    try:
        keys = [VerifierKey.parse(text) for text in verifier_keys]
    except InvalidVerifierKeyError as exc:
        raise InvalidCheckpointError(str(exc)) from None
    body, sep, signatures = note.partition("\n\n")
    if not sep or not body:
        raise InvalidCheckpointError("not a signed note (no blank line before signatures)")
    body += "\n"
    for line in signatures.splitlines():
        if not line.startswith(DASH):
            continue
        signer, _, blob = line[len(DASH):].partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            continue
        for key in keys:
            if signer != key.name or raw[:4] != key.key_id:
                continue
            if not key.verifies(body.encode(), raw[4:]):
                raise InvalidCheckpointError("the checkpoint's signature does not verify")
            return _parse_body(body)
    names = ", ".join(sorted({key.name for key in keys}))
    raise InvalidCheckpointError(f"the checkpoint carries no signature by {names}")


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    try:
        origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    except (IndexError, ValueError):
        raise InvalidCheckpointError("the checkpoint body is not origin, size, root") from None
    if not origin or size < 0 or len(root) != 32:
        raise InvalidCheckpointError("the checkpoint body is not origin, size, root")
    return Checkpoint(origin, size, root)
