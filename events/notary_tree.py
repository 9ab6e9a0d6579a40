"""The notary's Merkle tree of the global log, as stored in PostgreSQL (`merkle_leaves`,
`merkle_nodes`; the pure tree is events/merkle.py): reading it (subtree hashes, roots,
consistency and inclusion proofs) and building it (`MerkleTree.extend` appends the next
events of the global order as leaves, in one transaction with the subtree hashes they
complete, serialised with any other notary on an advisory lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import asyncpg

from events.merkle import (
    EMPTY_ROOT,
    Frontier,
    LeafTree,
    SubtreeHash,
    chain_leaf_bytes,
    consistency_proof,
    frontier_subtrees,
    inclusion_proof,
    leaf_hash,
    proof_subtrees,
    subtree_root,
)

NODE_MIN_LEVEL = 4
"""merkle_nodes holds subtrees of 16 leaves and more; smaller ones are hashed from
merkle_leaves."""


# pg_advisory_xact_lock keys: "notary" / "checkpt" folded into bigints
TREE_LOCK_KEY = 0x6E6F74617279
CHECKPOINT_LOCK_KEY = 0x636865636B7074


# What the notary reads of each event: its stored chain hash stands for the contents
# (events/merkle.py `event_leaf_bytes`; `casework verify` recomputes it from them).
# Its stream and version are recorded beside the leaf, to name an event the log lost.
_NEXT_EVENTS = """SELECT transaction_id::text::bigint AS tx, global_position,
           (extract(epoch FROM recorded_at) * 1000000)::bigint AS recorded_micros, hash,
           stream_id, stream_version
      FROM events
     WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id, global_position
     LIMIT $3"""


class TreeError(RuntimeError):
    """The stored tree cannot answer (a subtree is missing) or disagrees with a checkpoint."""


async def tree_size(conn: asyncpg.Connection) -> int:
    size = await conn.fetchval("SELECT max(leaf_index) + 1 FROM merkle_leaves")
    return int(size or 0)


async def fetch_subtrees(
    conn: asyncpg.Connection, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The hashes of these complete subtrees: two queries whatever their number."""
    wanted = set(wanted)
    high = [(lv, ix) for lv, ix in wanted if lv >= NODE_MIN_LEVEL]
    low = [(lv, ix) for lv, ix in wanted if lv < NODE_MIN_LEVEL]
    found: dict[tuple[int, int], bytes] = {}
    if high:
        rows = await conn.fetch(
            """SELECT n.level, n.node_index, n.hash
                 FROM unnest($1::smallint[], $2::bigint[]) AS w(level, node_index)
                 JOIN merkle_nodes n USING (level, node_index)""",
            [lv for lv, _ in high],
            [ix for _, ix in high],
        )
        found.update({(r["level"], r["node_index"]): bytes(r["hash"]) for r in rows})
    if low:
        indexes = sorted({i for lv, ix in low for i in range(ix << lv, (ix + 1) << lv)})
        rows = await conn.fetch(
            "SELECT leaf_index, leaf_hash FROM merkle_leaves WHERE leaf_index = ANY($1::bigint[])",
            indexes,
        )
        leaves = {r["leaf_index"]: bytes(r["leaf_hash"]) for r in rows}
        for lv, ix in low:
            span = [leaves.get(i) for i in range(ix << lv, (ix + 1) << lv)]
            if all(h is not None for h in span):
                found[(lv, ix)] = LeafTree([h for h in span if h is not None]).root()
    missing = wanted - found.keys()
    if missing:
        raise TreeError(f"the stored tree lacks subtrees {sorted(missing)[:5]}")
    return found


async def stored_getter(conn: asyncpg.Connection, wanted: Iterable[tuple[int, int]]) -> SubtreeHash:
    """A getter over the stored subtrees `wanted` (fetched now)."""
    found = await fetch_subtrees(conn, wanted)

    def get(level: int, index: int) -> bytes:
        try:
            return found[(level, index)]
        except KeyError:
            raise TreeError(f"subtree ({level}, {index}) was not fetched") from None

    return get


async def stored_root(conn: asyncpg.Connection, size: int) -> bytes:
    """The root of the stored tree's first `size` leaves."""
    if size == 0:
        return EMPTY_ROOT
    wanted = proof_subtrees(lambda g: subtree_root(g, 0, size))
    get = await stored_getter(conn, wanted)
    return subtree_root(get, 0, size)


async def stored_consistency_proof(
    conn: asyncpg.Connection, old_size: int, new_size: int
) -> list[bytes]:
    wanted = proof_subtrees(lambda g: consistency_proof(old_size, new_size, g))
    return consistency_proof(old_size, new_size, await stored_getter(conn, wanted))


@dataclass(frozen=True)
class InclusionProof:
    global_position: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]


async def inclusion_proofs(
    conn: asyncpg.Connection, global_positions: Sequence[int], size: int
) -> dict[int, InclusionProof]:
    """Inclusion proofs, in the stored tree of `size` leaves, of the events at these
    global positions (those notarised within the first `size` leaves): three queries
    for any number of events."""
    rows = await conn.fetch(
        """SELECT global_position, leaf_index, leaf_hash FROM merkle_leaves
            WHERE global_position = ANY($1::bigint[]) AND leaf_index < $2""",
        list(global_positions),
        size,
    )
    wanted: set[tuple[int, int]] = set()
    for r in rows:
        wanted |= proof_subtrees(partial(inclusion_proof, r["leaf_index"], size))
    get = await stored_getter(conn, wanted)
    return {
        r["global_position"]: InclusionProof(
            global_position=r["global_position"],
            leaf_index=r["leaf_index"],
            tree_size=size,
            leaf_hash=bytes(r["leaf_hash"]),
            path=tuple(inclusion_proof(r["leaf_index"], size, get)),
        )
        for r in rows
    }


@dataclass
class MerkleTree:
    """The notary's handle on the stored tree: the right edge in memory, so appending
    a leaf costs its hashes and one row (and one more for every 16th, 32nd … leaf)."""

    frontier: Frontier | None = None
    cursor: tuple[int, int] = (0, 0)

    @property
    def size(self) -> int:
        return self.frontier.size if self.frontier else 0

    def root(self) -> bytes:
        return self.frontier.root() if self.frontier else EMPTY_ROOT

    async def load(self, conn: asyncpg.Connection) -> None:
        """Read the right edge and the cursor of the stored tree."""
        last = await conn.fetchrow(
            """SELECT leaf_index, transaction_id, global_position FROM merkle_leaves
                ORDER BY leaf_index DESC LIMIT 1"""
        )
        size = 0 if last is None else last["leaf_index"] + 1
        edge = frontier_subtrees(size)
        found = await fetch_subtrees(conn, edge)
        self.frontier = Frontier(size, [found[k] for k in edge])
        self.cursor = (0, 0) if last is None else (last["transaction_id"], last["global_position"])

    async def extend(self, conn: asyncpg.Connection, limit: int = 5000) -> int:
        """Append up to `limit` next events as leaves, in one transaction; how many."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", TREE_LOCK_KEY)
            if self.frontier is None or await tree_size(conn) != self.size:
                await self.load(conn)  # first run, or another notary moved it on
            assert self.frontier is not None
            rows = await conn.fetch(_NEXT_EVENTS, str(self.cursor[0]), self.cursor[1], limit)
            if not rows:
                return 0
            frontier = Frontier(self.frontier.size, self.frontier.hashes)
            leaves: list[tuple[int, int, int, bytes, str, int]] = []
            nodes: list[tuple[int, int, bytes]] = []
            for row in rows:
                position = row["global_position"]
                h = leaf_hash(chain_leaf_bytes(position, row["recorded_micros"], row["hash"]))
                leaves.append(
                    (frontier.size, position, row["tx"], h, row["stream_id"], row["stream_version"])
                )
                frontier.push(h, NODE_MIN_LEVEL, nodes)
            await conn.copy_records_to_table(
                "merkle_leaves",
                records=leaves,
                columns=[
                    "leaf_index",
                    "global_position",
                    "transaction_id",
                    "leaf_hash",
                    "stream_id",
                    "stream_version",
                ],
            )
            if nodes:
                await conn.copy_records_to_table(
                    "merkle_nodes", records=nodes, columns=["level", "node_index", "hash"]
                )
        self.frontier = frontier
        self.cursor = (rows[-1]["tx"], rows[-1]["global_position"])
        return len(rows)

    async def catch_up(self, conn: asyncpg.Connection, limit: int = 5000) -> int:
        total = 0
        while n := await self.extend(conn, limit):
            total += n
        return total
