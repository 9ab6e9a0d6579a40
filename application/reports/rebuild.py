"""Recomputing a report from the log as of a signed checkpoint (`casework report rebuild`).

The log's first `tree_size` events (in its order: transaction id, then global
position) are read with every stored column; each is hashed as its Merkle leaf
(events/merkle.py, from the contents, not from the stored hash) and the tree's root
must equal the checkpoint's signed root, so the events counted are exactly the events
the notary signed, unchanged. The same events are folded with the same rule the read
model uses (cases/kpi.py `step`) and summed (`aggregate`) with the report's selection;
the figures must equal the report's, cell for cell.

A log changed after the checkpoint (an event edited, deleted or inserted before the
checkpoint's last one) does not reproduce the signed root: the rebuild says so and the
figures are not trusted. A report whose figures were changed, or computed from a log
changed before it was signed, does not match its recomputation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from application.reports.kpi import KpiReport, trusted_checkpoints
from cases.kpi import MEASURED, RULES_VERSION, CaseFacts, Cell, Measure, aggregate, step
from events.checkpoints import SignedCheckpoint
from events.merkle import LEAF_COLUMNS, Frontier, leaf_hash, row_leaf_bytes
from events.registry import event_type_of
from infrastructure.settings import Settings
from projections.base import CASE_STREAM_PREFIX, decode_data

_MEASURED_TYPES = frozenset(event_type_of(model) for model in MEASURED)


class RebuildRefused(ValueError):
    """The report or the checkpoint asked for cannot be used (names what)."""


@dataclass
class Difference:
    key: tuple[str, str, str, str, str]
    reported: tuple[int, int] | None
    recomputed: tuple[int, int] | None

    def __str__(self) -> str:
        kpi, month, team, worker, subject = self.key
        what = f"{kpi} {month} team {team} worker {worker}" + (f" ({subject})" if subject else "")

        def shown(v: tuple[int, int] | None) -> str:
            return "absent" if v is None else f"count {v[0]} total {v[1]}"

        return f"{what}: reported {shown(self.reported)}, recomputed {shown(self.recomputed)}"


@dataclass
class Rebuilt:
    checkpoint: SignedCheckpoint
    events: int = 0
    """Events read (the checkpoint's tree size when the log has them all)."""
    log_reproduces_checkpoint: bool = False
    cells: list[Cell] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.log_reproduces_checkpoint and not self.differences

    def to_json(self) -> dict[str, Any]:
        c = self.checkpoint
        return {
            "matches": self.matches,
            "checkpoint": {"sequence": c.sequence, "tree_size": c.tree_size,
                           "root_hash": c.root_hash.hex()},
            "events": self.events,
            "log_reproduces_checkpoint": self.log_reproduces_checkpoint,
            "figures": len(self.cells),
            "differences": [str(d) for d in self.differences],
        }  # fmt: skip


def checkpoint_for(settings: Settings, report: KpiReport, as_of: int | None) -> SignedCheckpoint:
    """The trusted checkpoint to recompute at: `as_of` (a sequence number), else the
    report's own. The report's checkpoint must be one the notary published."""
    published = {c.sequence: c for c in trusted_checkpoints(settings)}
    claimed = report.signed_checkpoint()
    own = published.get(claimed.sequence)
    if own is None or own.root_hash != claimed.root_hash or own.tree_size != claimed.tree_size:
        raise RebuildRefused(
            f"checkpoint: the report's checkpoint #{claimed.sequence} is not a trusted "
            "checkpoint of the checkpoint directory (CASEWORK_CHECKPOINT_DIR, "
            "CASEWORK_NOTARY_PUBLIC_KEYS)"
        )
    if as_of is None:
        return own
    wanted = published.get(as_of)
    if wanted is None:
        newest = max(published) if published else 0
        raise RebuildRefused(f"--as-of: no trusted checkpoint #{as_of} (the newest is #{newest})")
    return wanted


class _Fold:
    """The read model's fold, in memory: each case's facts and every measure."""

    def __init__(self) -> None:
        self.facts: dict[str, CaseFacts | None] = {}
        self.measures: list[Measure] = []

    def apply(self, row: asyncpg.Record) -> None:
        if row["event_type"] not in _MEASURED_TYPES:
            return
        stream: str = row["stream_id"]
        if not stream.startswith(CASE_STREAM_PREFIX):
            return
        case_id = stream[len(CASE_STREAM_PREFIX) :]
        event = decode_data(row["event_type"], row["schema_version"], json.loads(row["data_text"]))
        after, made = step(self.facts.get(case_id), event, row["occurred_at"])
        self.facts[case_id] = after
        self.measures.extend(made)


def compare(reported: list[Cell], recomputed: list[Cell]) -> list[Difference]:
    mine = {c.key(): (c.count, c.total) for c in reported}
    theirs = {c.key(): (c.count, c.total) for c in recomputed}
    return [
        Difference(key, mine.get(key), theirs.get(key))
        for key in sorted(mine.keys() | theirs.keys())
        if mine.get(key) != theirs.get(key)
    ]


async def rebuild_report(
    conn: asyncpg.Connection, settings: Settings, report: KpiReport, *, as_of: int | None = None,
    batch: int = 5000,
) -> Rebuilt:  # fmt: skip
    """Recompute `report` from the log's events up to checkpoint `as_of` (default: the
    report's) and compare."""
    if report.rules != RULES_VERSION:
        raise RebuildRefused(
            f"REPORT: computed with version {report.rules} of the KPI rules; this Casework "
            f"computes version {RULES_VERSION} (cases/kpi.py): recompute it with the release "
            "that made it"
        )
    signed = checkpoint_for(settings, report, as_of)
    result = Rebuilt(checkpoint=signed)
    frontier = Frontier()
    fold = _Fold()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if signed.tree_size > 0:
            cursor = conn.cursor(
                f"""SELECT {LEAF_COLUMNS} FROM events
                     ORDER BY transaction_id, global_position LIMIT $1""",
                signed.tree_size,
                prefetch=batch,
            )
            async for row in cursor:
                frontier.append(leaf_hash(row_leaf_bytes(row)))
                fold.apply(row)
    result.events = frontier.size
    result.log_reproduces_checkpoint = (
        frontier.size == signed.tree_size and frontier.root() == signed.root_hash
    )
    result.cells = aggregate(fold.measures, report.selection())
    result.differences = compare(report.cells, result.cells)
    return result


def lines(result: Rebuilt, report: KpiReport) -> Iterator[str]:
    """What `casework report rebuild` says."""
    c = result.checkpoint
    yield (
        f"KPI report {report.first_month} to {report.last_month}"
        + (f", team {report.team}" if report.team else "")
        + (f", worker {report.worker}" if report.worker else "")
    )
    yield (
        f"recomputed from the log as of checkpoint #{c.sequence} "
        f"(tree size {c.tree_size}, root {c.root_hash.hex()})"
    )
    if not result.log_reproduces_checkpoint:
        yield (
            f"the log does NOT reproduce checkpoint #{c.sequence}'s signed root: it was changed "
            f"after it was signed ({result.events} events read); run `casework verify` to name "
            "the event"
        )
    if result.differences:
        yield f"{len(result.differences)} figures do NOT match:"
        yield from (f"  {d}" for d in result.differences[:50])
        if len(result.differences) > 50:
            yield f"  … and {len(result.differences) - 50} more"
    if result.matches:
        yield f"matches: all {len(result.cells)} figures are the same"
