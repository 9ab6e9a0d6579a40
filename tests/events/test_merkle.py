"""RFC 9162 Merkle tree: roots, incremental building, inclusion and consistency proofs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.merkle import (
    EMPTY_ROOT,
    Frontier,
    LeafTree,
    ProofError,
    consistency_proof,
    event_leaf_bytes,
    frontier_subtrees,
    inclusion_proof,
    leaf_hash,
    node_hash,
    proof_subtrees,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

MAX = 70


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, written as the RFC states it (recursive), as the reference."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def test_domain_separation() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    # a leaf whose data is two hashes is not the node over them
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(a + b) != node_hash(a, b)


def test_known_root() -> None:
    # RFC 6962 / 9162 test vector: the 8 leaves of the CT reference implementation
    data = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ]
    root = root_from_leaves([leaf_hash(d) for d in data])
    assert root.hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert root_from_leaves([]) == EMPTY_ROOT


@settings(max_examples=60, deadline=None)
@given(st.integers(0, MAX))
def test_roots_agree_with_the_rfc_definition(n: int) -> None:
    hashes = leaves(n)
    assert root_from_leaves(hashes) == mth(hashes)
    assert LeafTree(hashes).root() == mth(hashes)
    frontier = Frontier()
    for i, h in enumerate(hashes):
        made = frontier.append(h)
        assert made[0] == (0, i, h)
        for level, index, value in made:
            assert value == mth(hashes[index << level : (index + 1) << level])
        assert frontier.root() == mth(hashes[: i + 1])
    assert [LeafTree(hashes)(lv, ix) for lv, ix in frontier_subtrees(n)] == frontier.hashes
    pushed, made = Frontier(), []
    for h in hashes:
        pushed.push(h, 2, made)
    assert pushed.hashes == frontier.hashes and pushed.size == n
    assert all(value == mth(hashes[ix << lv : (ix + 1) << lv]) for lv, ix, value in made)
    assert len(made) == sum(n >> level for level in range(2, n.bit_length()))
    resumed = Frontier(n, frontier.hashes)
    resumed.append(leaf_hash(b"next"))
    assert resumed.root() == mth([*hashes, leaf_hash(b"next")])


def test_every_inclusion_proof_verifies_and_tampering_fails() -> None:
    for n in range(1, MAX + 1):
        hashes = leaves(n)
        tree = LeafTree(hashes)
        root = mth(hashes)
        for i in range(n):
            proof = inclusion_proof(i, n, tree)
            assert verify_inclusion(hashes[i], i, n, proof, root)
            assert not verify_inclusion(leaf_hash(b"other"), i, n, proof, root)
            if n > 1:
                assert not verify_inclusion(hashes[i], (i + 1) % n, n, proof, root)
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = bytes(32)
                assert not verify_inclusion(hashes[i], i, n, bad, root)
            assert not verify_inclusion(hashes[i], i, n, [*proof, bytes(32)], root)
            if proof:
                assert not verify_inclusion(hashes[i], i, n, proof[:-1], root)
            asked = proof_subtrees(partial(inclusion_proof, i, n))
            assert len(asked) <= 2 * (n.bit_length() + 1)


def test_every_consistency_proof_verifies_and_tampering_fails() -> None:
    for n in range(0, MAX + 1):
        hashes = leaves(n)
        tree = LeafTree(hashes)
        new_root = mth(hashes)
        for m in range(0, n + 1):
            old_root = mth(hashes[:m])
            proof = consistency_proof(m, n, tree)
            assert verify_consistency(m, n, old_root, new_root, proof), (m, n)
            if 0 < m < n:
                assert not verify_consistency(m, n, leaf_hash(b"x"), new_root, proof)
                assert not verify_consistency(m, n, old_root, leaf_hash(b"x"), proof)
                for j in range(len(proof)):
                    bad = list(proof)
                    bad[j] = bytes(32)
                    assert not verify_consistency(m, n, old_root, new_root, bad), (m, n, j)
                assert not verify_consistency(m, n, old_root, new_root, [*proof, bytes(32)])
                assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
            if m < n:
                # a tree that shrinks is never consistent
                assert not verify_consistency(n, m, new_root, old_root, proof)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_rewritten_history_is_not_consistent(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, MAX))
    m = data.draw(st.integers(1, n - 1))
    changed = data.draw(st.integers(0, m - 1))
    hashes = leaves(n)
    forged = list(hashes)
    forged[changed] = leaf_hash(b"forged")
    old_root = mth(hashes[:m])
    # whatever proof the forger makes from the rewritten tree, it does not link the
    # published old root to the new one
    proof = consistency_proof(m, n, LeafTree(forged))
    assert not verify_consistency(m, n, old_root, mth(forged), proof)


def test_proof_arguments_outside_the_tree_are_refused() -> None:
    tree = LeafTree(leaves(5))
    with pytest.raises(ProofError):
        inclusion_proof(5, 5, tree)
    with pytest.raises(ProofError):
        consistency_proof(6, 5, tree)
    assert not verify_inclusion(leaves(1)[0], 3, 3, [], bytes(32))


def test_event_leaf_bytes_are_unambiguous() -> None:
    base = dict(
        global_position=7,
        stream_id="case-a",
        stream_version=2,
        event_id=UUID(int=1),
        event_type="ContactRecorded",
        schema_version=1,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        recorded_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
        data_text='{"a": 1}',
        metadata_text="{}",
        previous_hash=b"p" * 32,
        hash=b"h" * 32,
    )
    one = event_leaf_bytes(**base)  # type: ignore[arg-type]
    assert one == event_leaf_bytes(**base)  # type: ignore[arg-type]
    for field, other in [
        ("global_position", 8),
        ("stream_id", "case-a\n"),
        ("data_text", '{"a": 2}'),
        ("previous_hash", None),
        ("event_id", UUID(int=2)),
        ("metadata_text", '{"a": 1}'),
        ("recorded_at", datetime(2026, 1, 1, tzinfo=UTC)),
    ]:
        assert event_leaf_bytes(**{**base, field: other}) != one  # type: ignore[arg-type]
    # the stored chain hash is not what the leaf binds: the contents are
    assert event_leaf_bytes(**{**base, "hash": b"H" * 32}) == one  # type: ignore[arg-type]
    # moving bytes between adjacent fields changes the encoding
    shifted = {**base, "event_type": "ContactRecorded1", "schema_version": 1}
    shifted["event_type"] = "ContactRecorde"
    assert event_leaf_bytes(**shifted) != one  # type: ignore[arg-type]
