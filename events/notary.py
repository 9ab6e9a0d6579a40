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

The stored tree (reading and building it) is in events/notary_tree.py, the check in
events/notary_check.py; this module publishes checkpoints and re-exports the others.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointSink,
    NotaryKey,
    SignedCheckpoint,
    TrustedKeys,
    check_successor,
)
from events.merkle import ProofError
from events.notary_check import MissingEvent, TreeFinding, TreeReport, check_log_against_checkpoints
from events.notary_tree import (
    CHECKPOINT_LOCK_KEY,
    NODE_MIN_LEVEL,
    TREE_LOCK_KEY,
    InclusionProof,
    MerkleTree,
    TreeError,
    fetch_subtrees,
    inclusion_proofs,
    stored_consistency_proof,
    stored_getter,
    stored_root,
    tree_size,
)


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


__all__ = [
    "CHECKPOINT_LOCK_KEY",
    "NODE_MIN_LEVEL",
    "TREE_LOCK_KEY",
    "InclusionProof",
    "MerkleTree",
    "MissingEvent",
    "TreeError",
    "TreeFinding",
    "TreeReport",
    "check_log_against_checkpoints",
    "fetch_subtrees",
    "inclusion_proofs",
    "publish_checkpoint",
    "stored_consistency_proof",
    "stored_getter",
    "stored_root",
    "tree_size",
]
