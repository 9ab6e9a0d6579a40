"""A Merkle tree over the global log: RFC 9162 (Certificate Transparency v2) hashing.

Pure functions, no I/O, so the notary, `casework verify` and an auditor's offline
check of an export all compute the same thing.

* `leaf_hash(data) = SHA-256(0x00 || data)` and `node_hash(l, r) = SHA-256(0x01 || l || r)`
  (domain-separated, so a leaf can never pass for an inner node).
* The tree hash of n leaves is RFC 9162 section 2.1.1's MTH: split at the largest power
  of two smaller than n.
* Proofs are RFC 9162 section 2.1.3 (inclusion) and 2.1.4 (consistency); the verifiers
  are the iterative algorithms of sections 2.1.3.2 and 2.1.4.2.

A leaf is one event's *stored bytes* (`event_leaf_bytes`), in the order readers of the
global log see it (events/store.py `read_all`: by transaction id, then global position).

Proof generation takes a `SubtreeHash` getter: `get(level, index)` returns the hash of
the complete subtree of `2**level` leaves starting at leaf `index * 2**level`. The
notary keeps those in a table; `LeafTree` computes them in memory from a list of leaf
hashes. `proof_subtrees` lists which subtrees a proof will ask for (O(log n) of them),
so a database can fetch them all in one query first.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from events.chain import event_hash

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]
"""get(level, index): hash of the complete subtree of 2**level leaves from index * 2**level."""


class ProofError(ValueError):
    """A proof was asked for positions outside the tree."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- one event's stored bytes ------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LEAF_FORMAT = b"casework-event-leaf-v1"


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _fields(*fields: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


_FORMAT_FIELD = _fields(LEAF_FORMAT)


def chain_leaf_bytes(global_position: int, recorded_micros: int, chain_hash: bytes) -> bytes:
    """A leaf's bytes from the event's chain hash: the format tag, the global position,
    recorded-at in microseconds since the epoch, and the chain hash, each a 4-byte
    big-endian length then its bytes (integers as decimal ASCII)."""
    position = b"%d" % global_position
    micros = b"%d" % recorded_micros
    return b"".join(
        (
            _FORMAT_FIELD,
            len(position).to_bytes(4, "big"),
            position,
            len(micros).to_bytes(4, "big"),
            micros,
            len(chain_hash).to_bytes(4, "big"),
            chain_hash,
        )
    )


def event_leaf_bytes(
    *,
    global_position: int,
    stream_id: str,
    stream_version: int,
    event_id: UUID | str,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    data_text: str,
    metadata_text: str,
    previous_hash: bytes | None,
    hash: bytes | None = None,
) -> bytes:
    """The canonical bytes of one stored event: what its Merkle leaf hashes.

    They cover every stored column but the transaction id (an ordering artefact of
    the database that a dump and restore may not keep): the global position and
    recorded-at, and through the event's chain hash (events/chain.py, *recomputed here*
    from the contents) the stream id, stream version, event id, event type, schema
    version, occurred-at, `data` and `metadata` exactly as PostgreSQL renders the stored
    jsonb (`data::text`; personal fields are the stored ciphertext) and the previous
    event's chain hash. See `chain_leaf_bytes` for the layout.

    `hash`, the stored chain hash, is not used: the leaf binds the contents, not what
    the row claims their hash is (`casework verify`'s chain check compares the two).
    The notary reads the stored hash, which equals the recomputed one for every event
    the engine wrote (the chain trigger computed it), so it need not read the contents.
    """
    del hash
    chain = event_hash(
        previous_hash,
        stream_id,
        stream_version,
        UUID(str(event_id)),
        event_type,
        schema_version,
        occurred_at,
        data_text,
        metadata_text,
    )
    return chain_leaf_bytes(global_position, _micros(recorded_at), chain)


LEAF_COLUMNS = """global_position, stream_id, stream_version, event_id, event_type,
    schema_version, occurred_at, recorded_at, data::text AS data_text,
    metadata::text AS metadata_text, previous_hash, hash"""
"""The SELECT list whose row, as keyword arguments, is `event_leaf_bytes`'s input."""


def row_leaf_bytes(row: Any) -> bytes:
    """`event_leaf_bytes` of a row selected with `LEAF_COLUMNS` (an asyncpg Record or
    any mapping of those column names)."""
    return event_leaf_bytes(
        global_position=row["global_position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        data_text=row["data_text"],
        metadata_text=row["metadata_text"],
        previous_hash=row["previous_hash"],
    )


# --- tree hashes -------------------------------------------------------------------


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves (given as leaf hashes)."""
    return root_from_frontier(frontier_from_leaves(leaf_hashes))


def frontier_from_leaves(leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """The complete subtrees of the tree's right edge, largest first: one per set bit
    of the size (what `Frontier` keeps)."""
    frontier = Frontier()
    for h in leaf_hashes:
        frontier.append(h)
    return list(frontier.hashes)


def root_from_frontier(hashes: Sequence[bytes]) -> bytes:
    """MTH from the right-edge subtrees, largest first."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def frontier_subtrees(size: int) -> list[tuple[int, int]]:
    """(level, index) of the right-edge complete subtrees of a tree of `size` leaves,
    largest first."""
    out: list[tuple[int, int]] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


class Frontier:
    """Incremental tree building: append leaf hashes, get the root of the tree so far.

    `append` returns the complete subtrees it finished, as (level, index, hash), the
    leaf itself first (level 0): what a store of subtree hashes must record."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a frontier of {size} leaves has {bin(size).count('1')} hashes")
        self.size = size
        self.hashes: list[bytes] = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        index = self.size
        made = [(0, index, leaf)]
        current = leaf
        level = 0
        while index >> level & 1:
            current = node_hash(self.hashes.pop(), current)
            level += 1
            made.append((level, index >> level, current))
        self.hashes.append(current)
        self.size += 1
        return made

    def push(self, leaf: bytes, min_level: int, made: list[tuple[int, int, bytes]]) -> None:
        """`append`, adding to `made` only the subtrees of `min_level` and up."""
        index = self.size
        hashes = self.hashes
        current = leaf
        level = 0
        while index >> level & 1:
            current = node_hash(hashes.pop(), current)
            level += 1
            if level >= min_level:
                made.append((level, index >> level, current))
        hashes.append(current)
        self.size = index + 1

    def root(self) -> bytes:
        return root_from_frontier(self.hashes)


def subtree_root(get: SubtreeHash, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) from complete-subtree hashes."""
    n = end - start
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        return get(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(subtree_root(get, start, start + k), subtree_root(get, start + k, end))


class LeafTree:
    """Every complete subtree of a list of leaf hashes, in memory (a `SubtreeHash`)."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def __call__(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return subtree_root(self, 0, self.size if size is None else size)


# --- proofs (RFC 9162 2.1.3.1 and 2.1.4.1) -----------------------------------------


def inclusion_proof(index: int, size: int, get: SubtreeHash) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaves."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(subtree_root(get, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(get, start, start + k))
            start = start + k
    proof.reverse()
    return proof


def consistency_proof(old_size: int, new_size: int, get: SubtreeHash) -> list[bytes]:
    """The proof that the tree of `old_size` leaves is a prefix of that of `new_size`."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    # SUBPROOF(m, D[start:end], complete)
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_root(get, start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append(subtree_root(get, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(get, start, start + k))
            start, m, complete = start + k, m - k, False
    proof.reverse()
    return proof


def proof_subtrees(make_proof: Callable[[SubtreeHash], object]) -> set[tuple[int, int]]:
    """Which (level, index) subtrees `make_proof(get)` asks for: run it once with a
    recording getter (e.g. `proof_subtrees(lambda g: inclusion_proof(i, n, g))`)."""
    asked: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        asked.add((level, index))
        return bytes(HASH_SIZE)

    make_proof(record)
    return asked


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) -----------------------------------


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (raises ProofError if malformed)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `leaf` (a leaf hash) is leaf `index` of the tree of `size` with `root`."""
    try:
        return root_from_inclusion_proof(leaf, index, size, proof) == root
    except ProofError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether the tree (old_size, old_root) is a prefix of (new_size, new_root)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: old_root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
