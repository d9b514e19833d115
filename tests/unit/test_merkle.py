"""The event log's Merkle tree (projections/merkle.py) is RFC 6962's: the incremental root
equals the definition's, inclusion proofs verify, and any change to a leaf, its position or
the size changes the root."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.merkle import (
    EMPTY_ROOT,
    Frontier,
    inclusion_proof,
    leaf_hash,
    node_hash,
    outside_spans,
    root_from_range,
    root_of,
    verify_inclusion,
)


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + bytes([i % 256, i // 256])).digest() for i in range(n)]


def test_known_shapes_of_rfc_6962() -> None:
    a, b, c = _leaves(3)
    assert root_of([]) == EMPTY_ROOT and root_of([a]) == a
    assert root_of([a, b, c]) == node_hash(node_hash(a, b), c)


@settings(max_examples=60)
@given(st.integers(0, 300))
def test_the_incremental_root_is_the_definitions_at_every_size(n: int) -> None:
    leaves, frontier = _leaves(n), Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.size == n and frontier.root() == root_of(leaves)
    assert len(frontier.nodes) == bin(n).count("1")  # bounded: one node per set bit


@settings(max_examples=60)
@given(st.integers(1, 200), st.data())
def test_an_inclusion_proof_verifies_its_leaf_and_no_other(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    index = data.draw(st.integers(0, n - 1))
    root, proof = root_of(leaves), inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, n, proof, root)
    assert len(proof) <= n.bit_length()
    other = hashlib.sha256(b"forged").digest()
    assert not verify_inclusion(other, index, n, proof, root)
    if n > 1:
        assert not verify_inclusion(leaves[index], (index + 1) % n, n, proof, root)


def test_a_leaf_covers_every_stored_byte() -> None:
    oid = uuid.uuid4()
    base = leaf_hash(7, oid, 3, "domain.x:X.Created", b"state")
    assert base != leaf_hash(8, oid, 3, "domain.x:X.Created", b"state")
    assert base != leaf_hash(7, uuid.uuid4(), 3, "domain.x:X.Created", b"state")
    assert base != leaf_hash(7, oid, 4, "domain.x:X.Created", b"state")
    assert base != leaf_hash(7, oid, 3, "domain.x:X.Revised", b"state")
    assert base != leaf_hash(7, oid, 3, "domain.x:X.Created", b"statf")


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64, 100])
def test_a_range_with_its_outside_spans_gives_the_root(size: int) -> None:
    leaves = _leaves(size)
    root = root_of(leaves)
    for first in range(size):
        for end in range(first + 1, size + 1):
            spans = outside_spans(size, first, end)
            proof = [root_of(leaves[lo:hi]) for lo, hi in spans]
            assert len(proof) <= 2 * size.bit_length()
            assert root_from_range(size, first, leaves[first:end], proof) == root
            if end - first > 1:  # a changed or swapped leaf gives another root
                swapped = [leaves[first + 1], leaves[first], *leaves[first + 2:end]]
                assert root_from_range(size, first, swapped, proof) != root
