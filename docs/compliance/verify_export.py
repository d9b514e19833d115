#!/usr/bin/env python3
"""Check an audit export offline against the signed checkpoint written beside it.

    python3 verify_export.py EXPORT KEY [KEY ...]

EXPORT is a file written by `clinic audit export` (jsonl, csv, or fhir: a Bundle or ndjson);
its proof is EXPORT.proof.json. KEY is the clinic's published verifier key
(`name+keyid+base64`, `clinic audit key`) or a file of them. Needs only `cryptography`.

It checks that the checkpoint is signed by a given key, recomputes each exported event's
leaf hash from the stored record it carries (jsonl, csv; a fhir export carries the leaf
hashes themselves), and that those leaves, at their places, with the proof's hashes of the
rest of the log, give the signed root: no exported event was altered, dropped, added or
moved since the checkpoint was signed. Access records are listed in the export but are not
in the tree.
"""

import base64
import csv
import hashlib
import json
import struct
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

LEAF_DETAIL = "leaf-sha256"


def verifier_keys(arguments: Iterable[str]) -> Iterator[tuple[str, bytes, Ed25519PublicKey]]:
    for argument in arguments:
        path = Path(argument)
        for line in path.read_text().split() if path.is_file() else [argument]:
            name, key_id, blob = line.strip().split("+")
            raw = base64.b64decode(blob)
            if raw[:1] != b"\x01" or hashlib.sha256(
                    name.encode() + b"\n" + raw).digest()[:4].hex() != key_id:
                sys.exit(f"not an Ed25519 verifier key: {line}")
            yield name, bytes.fromhex(key_id), Ed25519PublicKey.from_public_bytes(raw[1:])


def signed_checkpoint(note: str, keys: list[tuple[str, bytes, Ed25519PublicKey]]
                      ) -> tuple[str, int, bytes]:
    """(origin, size, root) of a C2SP signed note carrying a valid signature by one key."""
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    for line in signatures.splitlines():
        signer, _, blob = line.removeprefix("\u2014 ").partition(" ")
        raw = base64.b64decode(blob)
        for name, key_id, key in keys:
            if signer == name and raw[:4] == key_id:
                try:
                    key.verify(raw[4:], body.encode())
                except InvalidSignature:
                    sys.exit("FAILED: the checkpoint's signature does not verify")
                origin, size, root = body.split("\n")[:3]
                return origin, int(size), base64.b64decode(root)
    sys.exit("FAILED: the checkpoint carries no signature by the keys given")


def leaf_hash(position: int, record_id: str, version: int, topic: str, stored: bytes) -> bytes:
    topic_bytes = topic.encode()
    record = b"".join((struct.pack(">QQ", position, version), UUID(record_id).bytes,
                       struct.pack(">I", len(topic_bytes)), topic_bytes,
                       struct.pack(">Q", len(stored)), stored))
    return hashlib.sha256(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def exported_leaves(path: Path) -> Iterator[tuple[int, bytes]]:
    """(tree index, leaf hash) of each exported event, in file order."""
    text = path.read_text()
    if path.suffix == ".csv":
        rows: list[dict[str, Any]] = [
            dict(r) for r in csv.DictReader(text.splitlines()) if r["kind"] == "change"]
    else:
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:  # ndjson or jsonl: one object per line
            whole = None
        if isinstance(whole, dict) and whole.get("resourceType") == "Bundle":
            rows = [entry["resource"] for entry in whole.get("entry", [])]
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    for row in rows:
        if row.get("resourceType") == "AuditEvent":
            details = {d["type"]: d for entity in row.get("entity", [])
                       for d in entity.get("detail", [])}
            if LEAF_DETAIL in details:
                yield (int(details["tree-index"]["valueString"]),
                       base64.b64decode(details[LEAF_DETAIL]["valueBase64Binary"]))
        elif row.get("kind") == "change":
            yield int(row["tree_index"]), leaf_hash(
                int(row["position"]), row["record_id"], int(row["version"]), row["topic"],
                base64.b64decode(row["stored"]))


def root_from_range(size: int, first: int, leaves: list[bytes], proof: list[bytes]) -> bytes:
    """RFC 6962 root of a tree of `size` leaves from leaves [first, first + len(leaves)) and
    the hashes of the subtrees outside that range, left to right."""
    last = first + len(leaves)
    next_leaf, next_hash = iter(leaves), iter(proof)

    def root(lo: int, hi: int) -> bytes:
        if hi <= first or lo >= last:
            return next(next_hash)
        if hi - lo == 1:
            return next(next_leaf)
        split = 1 << ((hi - lo - 1).bit_length() - 1)
        return node_hash(root(lo, lo + split), root(lo + split, hi))

    result = root(0, size)
    if next(next_hash, None) is not None:
        sys.exit("FAILED: the proof has hashes left over")
    return result


def main() -> int:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    export = Path(sys.argv[1])
    proof = json.loads(Path(f"{export}.proof.json").read_text())
    origin, size, signed_root = signed_checkpoint(proof["checkpoint"],
                                                  list(verifier_keys(sys.argv[2:])))
    leaves = list(exported_leaves(export))
    first = proof["first_tree_index"]
    if [index for index, _ in leaves] != list(range(first, first + len(leaves))):
        sys.exit("FAILED: the exported events are not the contiguous range the proof covers")
    if first + len(leaves) - 1 != proof["last_tree_index"] or size != proof["size"]:
        sys.exit("FAILED: the export does not hold the range its proof names")
    hashes = [base64.b64decode(h) for h in proof["hashes"]]
    if root_from_range(size, first - 1, [leaf for _, leaf in leaves], hashes) != signed_root:
        sys.exit("FAILED: the exported events do not give the signed root")
    print(f"ok: {len(leaves)} events (tree {first}..{first + len(leaves) - 1}) are in the "
          f"log {origin} of {size} events signed by the checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
