"""The Merkle tree of the global log in PostgreSQL: built by the notary, proofs from it,
and the check of the log against the signed checkpoints (`casework verify`).

* `MerkleTree.extend` appends the next events of the global order (only those no
  transaction still in progress can precede, as `EventStore.read_all`) as leaves, in
  one transaction with the subtree hashes they complete. A notary killed mid-batch
  leaves nothing of that batch; the next run starts from the last committed leaf.
  Two notaries serialise on an advisory lock and never append the same leaf twice
  (leaf_index is the primary key).
* `publish_checkpoint` signs the tree's current root and publishes it to the sink, only
  once the tree is proven (RFC 9162 consistency proof, from the stored subtrees)
  to extend the sink's latest checkpoint, whose signature is checked first.
* `check_log_against_checkpoints` rebuilds every leaf from the log itself (not from
  the notary's tables), and requires the log to reproduce every trusted checkpoint's
  root. The first that it does not reproduce names the event: the notary's stored
  leaves, once they are proven to reproduce that checkpoint from the last one that
  matched, say which event was notarised at each leaf. Events the checkpoint covered
  that the log no longer has (deleted, truncated, rolled back) are named by their
  stream and versions (recorded beside each leaf) and global positions, not by the
  untouched event that now stands where they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

import asyncpg

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointSink,
    NotaryKey,
    SignedCheckpoint,
    TrustedKeys,
    check_chain,
    check_successor,
)
from events.merkle import (
    EMPTY_ROOT,
    LEAF_COLUMNS,
    Frontier,
    LeafTree,
    ProofError,
    SubtreeHash,
    chain_leaf_bytes,
    consistency_proof,
    frontier_subtrees,
    inclusion_proof,
    leaf_hash,
    proof_subtrees,
    row_leaf_bytes,
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


# --- reading the stored tree -------------------------------------------------------


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


# --- building it -------------------------------------------------------------------


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


async def publish_checkpoint(
    conn: asyncpg.Connection,
    tree: MerkleTree,
    key: NotaryKey,
    sink: CheckpointSink,
    keys: TrustedKeys,
    *,
    log_id: str,
    now: datetime | None = None,
) -> SignedCheckpoint | None:
    """Sign and publish the tree's current root if it grew since the sink's latest
    checkpoint; None if it did not. Refuses (CheckpointError) a latest checkpoint not
    signed by a trusted key, and a tree that does not extend it."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", CHECKPOINT_LOCK_KEY)
        try:
            await tree.load(conn)
        except TreeError as exc:
            raise CheckpointError(f"the stored tree is incomplete: {exc}") from exc
        latest = sink.latest()
        if latest is not None:
            keys.check(latest)
            if latest.checkpoint.log_id != log_id:
                raise CheckpointError(
                    f"the sink holds checkpoints of log {latest.checkpoint.log_id!r}, "
                    f"this notary's log is {log_id!r}"
                )
        size, root = tree.size, tree.root()
        previous_size = 0 if latest is None else latest.tree_size
        if size < previous_size:
            raise CheckpointError(
                f"the tree has {size} events, checkpoint #{latest and latest.sequence} "
                f"{previous_size}: the log or the tree was rolled back"
            )
        if size == previous_size:
            if latest is not None and root != latest.root_hash:
                raise CheckpointError(
                    f"the tree of {size} events does not reproduce checkpoint #{latest.sequence}"
                )
            return None
        proof: list[bytes] = []
        if latest is not None:
            if await stored_root(conn, previous_size) != latest.root_hash:
                raise CheckpointError(
                    f"the stored tree does not reproduce checkpoint #{latest.sequence}"
                )
            try:
                proof = await stored_consistency_proof(conn, previous_size, size)
            except (ProofError, TreeError) as exc:
                raise CheckpointError(f"no consistency proof: {exc}") from exc
        checkpoint = Checkpoint(
            log_id=log_id,
            sequence=1 if latest is None else latest.sequence + 1,
            tree_size=size,
            root_hash=root,
            timestamp=(now or datetime.now(UTC)).astimezone(UTC),
            key_id=key.key_id,
        )
        signed = SignedCheckpoint(
            checkpoint=checkpoint,
            signature=key.sign(checkpoint),
            previous_size=previous_size,
            consistency=tuple(proof),
        )
        check_successor(latest, signed)  # the consistency proof, checked before publishing
        sink.publish(signed)
        return signed


# --- checking the log against the checkpoints --------------------------------------


@dataclass(frozen=True)
class TreeFinding:
    """A checkpoint the log does not reproduce (or one refused), and the event it names."""

    problem: str
    checkpoint: int | None = None
    leaf_index: int | None = None
    global_position: int | None = None
    stream_id: str | None = None
    stream_version: int | None = None
    event_id: UUID | None = None
    missing: tuple[MissingEvent, ...] = ()
    """Events the checkpoint covered that the log no longer has (then the fields above
    name the first of them)."""

    def __str__(self) -> str:
        return self.problem

    def to_json(self) -> dict[str, object]:
        return {
            "checkpoint": self.checkpoint,
            "leaf_index": self.leaf_index,
            "global_position": self.global_position,
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "event_id": str(self.event_id) if self.event_id else None,
            "missing": [m.to_json() for m in self.missing],
            "problem": self.problem,
        }


@dataclass(frozen=True)
class MissingEvent:
    """An event a checkpoint signed that the log no longer has: its leaf and global
    position, and its stream and version as the notary recorded them (None for a leaf
    notarised before it recorded them, whose event was gone before they were filled in)."""

    leaf_index: int
    global_position: int
    stream_id: str | None
    stream_version: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "leaf_index": self.leaf_index,
            "global_position": self.global_position,
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
        }


@dataclass
class TreeReport:
    events: int = 0
    checkpoints: int = 0
    """Trusted checkpoints (signed by a trusted key, each extending the one before)."""
    checkpoints_reproduced: int = 0
    notarised: int = 0
    """Events covered by the latest trusted checkpoint."""
    findings: list[TreeFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class _Leaf:
    hash: bytes
    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID


async def check_log_against_checkpoints(
    conn: asyncpg.Connection,
    checkpoints: Iterable[SignedCheckpoint],
    keys: TrustedKeys,
    *,
    batch: int = 5000,
) -> TreeReport:
    """Rebuild the tree from the log and require every trusted checkpoint's root."""
    report = TreeReport()
    trusted, problems = check_chain(list(checkpoints), keys)
    report.findings += [TreeFinding(f"checkpoint refused: {p}") for p in problems]
    report.checkpoints = len(trusted)
    report.notarised = trusted[-1].tree_size if trusted else 0
    pending = [c for c in trusted if c.tree_size > 0]
    for c in trusted:
        if c.tree_size == 0 and c.root_hash != EMPTY_ROOT:
            report.findings.append(
                TreeFinding(f"checkpoint #{c.sequence}: an empty tree with a root", c.sequence)
            )

    frontier = Frontier()
    matched = Frontier()  # the tree at the last reproduced checkpoint
    segment: list[_Leaf] = []  # the leaves since then
    failed: SignedCheckpoint | None = None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = conn.cursor(
            f"SELECT {LEAF_COLUMNS} FROM events ORDER BY transaction_id, global_position",
            prefetch=batch,
        )
        async for row in cursor:
            report.events += 1
            if failed is not None or not pending:
                continue
            h = leaf_hash(row_leaf_bytes(row))
            frontier.append(h)
            segment.append(
                _Leaf(
                    h,
                    row["global_position"],
                    row["stream_id"],
                    row["stream_version"],
                    row["event_id"],
                )
            )
            while pending and pending[0].tree_size == frontier.size:
                if frontier.root() != pending[0].root_hash:
                    failed = pending[0]
                    break
                report.checkpoints_reproduced += 1
                pending.pop(0)
                matched = Frontier(frontier.size, frontier.hashes)
                segment = []
        if failed is None and pending:
            failed = pending[0]  # the log is shorter than this checkpoint's tree
        if failed is not None:
            report.findings.append(await _locate(conn, failed, matched, segment, report.events))
    return report


async def _locate(
    conn: asyncpg.Connection,
    failed: SignedCheckpoint,
    matched: Frontier,
    segment: list[_Leaf],
    log_size: int,
) -> TreeFinding:
    start, end = matched.size, failed.tree_size
    seq = failed.sequence
    stored = await conn.fetch(
        """SELECT leaf_index, global_position, leaf_hash, stream_id, stream_version
             FROM merkle_leaves
            WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index""",
        start,
        end,
    )
    rebuilt = Frontier(matched.size, matched.hashes)
    for r in stored:
        rebuilt.append(bytes(r["leaf_hash"]))
    authentic = rebuilt.size == end and rebuilt.root() == failed.root_hash
    shorter = log_size < end
    if authentic:
        # the notary's leaves [start, end) are what checkpoint #seq signed: first, the
        # events among them the log no longer has at all (deleted, truncated)
        present = {
            r["global_position"]
            for r in await conn.fetch(
                "SELECT global_position FROM events WHERE global_position = ANY($1::bigint[])",
                [r["global_position"] for r in stored],
            )
        }
        gone = [
            MissingEvent(r["leaf_index"], r["global_position"], r["stream_id"], r["stream_version"])
            for r in stored
            if r["global_position"] not in present
        ]
        if gone:
            return await _missing(conn, seq, end, log_size, gone)
        for offset, r in enumerate(stored):
            here = segment[offset] if offset < len(segment) else None
            if here is not None and here.hash == bytes(r["leaf_hash"]):
                continue
            notarised = r["global_position"]
            if here is None:
                return TreeFinding(
                    f"the event at global position {notarised} (leaf {r['leaf_index']} of "
                    f"checkpoint #{seq}) is missing from the log: it has {log_size} events, "
                    f"checkpoint #{seq} signed {end} (truncated or rolled back)",
                    checkpoint=seq,
                    leaf_index=r["leaf_index"],
                    global_position=notarised,
                )
            what = (
                "altered"
                if here.global_position == notarised
                else f"checkpoint #{seq} has the event at global position {notarised} there: "
                "events removed or inserted"
            )
            return TreeFinding(
                f"{here.stream_id} v{here.stream_version} (event {here.event_id}, global "
                f"position {here.global_position}) is not leaf {r['leaf_index']} of checkpoint "
                f"#{seq}: {what}",
                checkpoint=seq,
                leaf_index=r["leaf_index"],
                global_position=here.global_position,
                stream_id=here.stream_id,
                stream_version=here.stream_version,
                event_id=here.event_id,
            )
    # The notary's leaves are gone or doctored too: name the range checkpoint #seq covers.
    if shorter and not segment:
        return TreeFinding(
            f"the log has {log_size} events, checkpoint #{seq} signed {end}: events from "
            f"leaf {log_size} on are missing (truncated or rolled back)",
            checkpoint=seq,
            leaf_index=log_size,
        )
    first = segment[0]
    return TreeFinding(
        f"the log does not reproduce checkpoint #{seq} ({end} events): an event among leaves "
        f"{start}…{end - 1}, from {first.stream_id} v{first.stream_version} (global position "
        f"{first.global_position}) on, was "
        + ("removed (the log is shorter)" if shorter else "altered, removed or inserted"),
        checkpoint=seq,
        leaf_index=start,
        global_position=first.global_position,
        stream_id=first.stream_id,
        stream_version=first.stream_version,
        event_id=first.event_id,
    )


async def _missing(
    conn: asyncpg.Connection, seq: int, end: int, log_size: int, gone: list[MissingEvent]
) -> TreeFinding:
    """The finding for events checkpoint #seq signed that the log no longer has: each
    stream with its missing versions and global positions, and where the log now ends
    that stream (a stream cut short is what deleting its newest events leaves)."""
    by_stream: dict[str | None, list[MissingEvent]] = {}
    for m in gone:
        by_stream.setdefault(m.stream_id, []).append(m)
    named = [s for s in by_stream if s is not None]
    last = {
        r["stream_id"]: r["last"]
        for r in await conn.fetch(
            """SELECT stream_id, max(stream_version) AS last FROM events
                WHERE stream_id = ANY($1::text[]) GROUP BY stream_id""",
            named,
        )
    }
    parts: list[str] = []
    for stream, events in list(by_stream.items())[:_STREAMS_NAMED]:
        positions = _runs([m.global_position for m in events], "")
        if stream is None:
            parts.append(
                f"the event(s) at global position(s) {positions} (leaves "
                f"{_runs([m.leaf_index for m in events], '')}; their streams were not recorded)"
            )
            continue
        versions = [m.stream_version for m in events if m.stream_version is not None]
        now = last.get(stream)
        if now is None:
            tail = f"no event of {stream} is left in the log"
        elif not versions or now < min(versions):
            tail = f"the log now ends {stream} at v{now}"
        else:
            tail = f"the log has {stream} up to v{now}, without them"
        parts.append(f"{stream} {_runs(versions, 'v')} (global position(s) {positions}): {tail}")
    if len(by_stream) > _STREAMS_NAMED:
        parts.append(f"and events of {len(by_stream) - _STREAMS_NAMED} more stream(s)")
    first = gone[0]
    return TreeFinding(
        f"{len(gone)} event(s) that checkpoint #{seq} signed are missing from the log "
        f"(deleted, truncated or rolled back; it has {log_size} events, checkpoint #{seq} "
        f"signed {end}): " + "; ".join(parts),
        checkpoint=seq,
        leaf_index=first.leaf_index,
        global_position=first.global_position,
        stream_id=first.stream_id,
        stream_version=first.stream_version,
        missing=tuple(gone),
    )


_STREAMS_NAMED = 10
"""Streams a finding about missing events names one by one (the rest are counted)."""


def _runs(numbers: Sequence[int], prefix: str) -> str:
    """`v4, v5` or `v4–v9`: ascending numbers, runs of three or more as a range."""
    values = sorted(set(numbers))
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{prefix}{values[i]}–{prefix}{values[j]}")
        else:
            out += [f"{prefix}{v}" for v in values[i : j + 1]]
        i = j + 1
    return ", ".join(out) or "?"
