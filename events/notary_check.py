"""The check of the log against the signed checkpoints (`casework verify`;
events/notary.py `check_log_against_checkpoints`).

The tree is rebuilt from the log itself (not from the notary's tables), and the log
must reproduce every trusted checkpoint's root. The first that it does not reproduce
names the event: the notary's stored leaves, once they are proven to reproduce that
checkpoint from the last one that matched, say which event was notarised at each leaf.
Events the checkpoint covered that the log no longer has (deleted, truncated, rolled
back) are named by their stream and versions (recorded beside each leaf) and global
positions, not by the untouched event that now stands where they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from events.checkpoints import SignedCheckpoint, TrustedKeys, check_chain
from events.merkle import EMPTY_ROOT, LEAF_COLUMNS, Frontier, leaf_hash, row_leaf_bytes


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
