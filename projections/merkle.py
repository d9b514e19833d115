"""An RFC 6962 (Certificate Transparency) Merkle tree over the event log, in notification order.

A leaf is the hash of one stored event record exactly as stored: its notification id,
aggregate id and version, topic and state bytes (sealed, so it verifies after a patient's key
is shredded). The tree grows by appending; `Frontier` keeps only the roots of its perfect
subtrees (log2 of the size), so the root of any size is computed in bounded memory, and a
proof that one event is in a checkpoint is log2(size) hashes (docs/decisions/0041).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from uuid import UUID


def leaf_hash(notification_id: int, originator_id: UUID, originator_version: int, topic: str,
              state: bytes) -> bytes:
    """SHA-256(0x00 || record): every byte of the stored record, length-prefixed."""
    topic_bytes = topic.encode()
    record = b"".join((struct.pack(">QQ", notification_id, originator_version),
                       originator_id.bytes, struct.pack(">I", len(topic_bytes)), topic_bytes,
                       struct.pack(">Q", len(state)), state))
    return hashlib.sha256(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


@dataclass
class Frontier:
    """The roots of the perfect subtrees of a tree of `size` leaves, largest first."""

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:  # merge equal-sized subtrees, as a binary counter carries
            node = node_hash(self.nodes.pop(), node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        """RFC 6962 MTH of the leaves so far."""
        if not self.nodes:
            return EMPTY_ROOT
        root = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            root = node_hash(node, root)
        return root

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.nodes))


def root_of(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH, by its definition (for tests and proofs over a range held in memory)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two < n
    return node_hash(root_of(leaves[:split]), root_of(leaves[split:]))


def inclusion_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """RFC 6962 audit path of leaf `index` (0-based) in the tree of `leaves`."""
    if len(leaves) <= 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*inclusion_proof(leaves[:split], index), root_of(leaves[split:])]
    return [*inclusion_proof(leaves[split:], index - split), root_of(leaves[:split])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes],
                     root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: whether `proof` puts `leaf` at `index` of a tree of `size`
    leaves with this `root`."""
    if index >= size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root


def outside_spans(size: int, first: int, end: int) -> list[tuple[int, int]]:
    """The subtrees [lo, hi) of a tree of `size` leaves that lie wholly outside leaves
    [first, end), left to right: their hashes and those leaves give the root (a range
    proof, O(log size) hashes; how an export is checked against a checkpoint)."""
    spans: list[tuple[int, int]] = []

    def walk(lo: int, hi: int) -> None:
        if hi <= first or lo >= end:
            spans.append((lo, hi))
        elif hi - lo > 1:
            split = lo + (1 << ((hi - lo - 1).bit_length() - 1))
            walk(lo, split)
            walk(split, hi)

    walk(0, size)
    return spans


def root_from_range(size: int, first: int, leaves: list[bytes], proof: list[bytes]) -> bytes:
    """The root of a tree of `size` leaves from its leaves [first, first + len(leaves)) and
    the hashes of `outside_spans` in order (docs/compliance/verify_export.py does the same)."""
    end, next_leaf, next_hash = first + len(leaves), iter(leaves), iter(proof)

    def root(lo: int, hi: int) -> bytes:
        if hi <= first or lo >= end:
            return next(next_hash)
        if hi - lo == 1:
            return next(next_leaf)
        split = lo + (1 << ((hi - lo - 1).bit_length() - 1))
        return node_hash(root(lo, split), root(split, hi))

    return root(0, size)
