from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from devtools.simulation import Chooser
from events.envelope import NewEvent
from events.store import EventStore
from projections.base import Projection
from projections.catalog import all_projections
from projections.runner import ProjectionRunner


async def append_interleaved(
    store: EventStore, cases: Sequence[tuple[uuid.UUID, list[NewEvent]]], chooser: Chooser
) -> int:
    """Append every case's events, cases interleaved in chunks, each stream in order."""
    pending = {f"case-{case_id}": list(events) for case_id, events in cases}
    versions = dict.fromkeys(pending, 0)
    total = 0
    while pending:
        stream = chooser.choice(list(pending))  # insertion order: reproducible draws
        events = pending[stream]
        n = min(len(events), chooser.integer(1, 4))
        await store.append(stream, versions[stream], events[:n])
        versions[stream] += n
        total += n
        del events[:n]
        if not events:
            del pending[stream]
    return total


async def catch_up(
    dsn: str, store: EventStore, projections: Sequence[Projection] | None = None
) -> int:
    """Run every projection until it has applied all visible events."""
    conn = await asyncpg.connect(dsn)
    try:
        total = 0
        for projection in projections or all_projections():
            total += await ProjectionRunner(projection, dsn, store).catch_up(conn)
        return total
    finally:
        await conn.close()


async def snapshot(pool: asyncpg.Pool, projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the projection's tables, sorted, for comparison."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in projection.tables:
        rows = await pool.fetch(f"SELECT * FROM public.{table}")
        out[table] = sorted((tuple(r.values()) for r in rows), key=repr)
    return out
