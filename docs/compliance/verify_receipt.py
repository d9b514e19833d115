#!/usr/bin/env python3
"""Check a consent receipt offline, with the clinic's published verifier key(s).

    python3 verify_receipt.py receipt.json KEY [KEY ...]

KEY is a verifier key (`name+keyid+base64`, from `clinic audit key` or
GET /consent-receipts/keys) or a file holding one per line; give the old keys too after a
rotation. Needs only the `cryptography` package. Exit 0: the receipt is signed by one of
them and unaltered. Whether the consent was later withdrawn only the clinic knows: ask
POST /consent-receipts/verify.
"""

import base64
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CONTEXT = b"clinic-booking consent receipt v1\n"  # what the signature covers comes after it


def verifier_keys(arguments: Iterable[str]) -> Iterator[tuple[str, Ed25519PublicKey]]:
    for argument in arguments:
        path = Path(argument)
        lines = path.read_text().split() if path.is_file() else [argument]
        for line in lines:
            name, key_id, blob = line.strip().split("+")
            raw = base64.b64decode(blob)
            digest = hashlib.sha256(name.encode() + b"\n" + raw).digest()
            if raw[:1] != b"\x01" or digest[:4].hex() != key_id:
                sys.exit(f"not an Ed25519 verifier key: {line}")
            yield key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def main() -> int:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    document = json.loads(Path(sys.argv[1]).read_text())
    keys = dict(verifier_keys(sys.argv[2:]))
    receipt, key_id = document["receipt"], document["key_id"]
    if key_id not in keys:
        print(f"UNKNOWN KEY {key_id}: not signed by any key given")
        return 1
    canonical = json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()
    try:
        keys[key_id].verify(base64.b64decode(document["signature"]), CONTEXT + canonical)
    except InvalidSignature:
        print("INVALID: the receipt was altered, or not signed by that key")
        return 1
    print(f"valid: {receipt['purpose']} consent {receipt['status']} at "
          f"{receipt['recorded_at']} for patient {receipt['patient_id']}, policy "
          f"{receipt['policy_version']} (sha256 {receipt['policy_sha256']}); key {key_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
