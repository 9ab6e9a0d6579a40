"""Rebuild a projection from the start without downtime for its readers.

The projection is replayed into shadow copies of its tables in schema
`casework_rebuild` (`CREATE TABLE … (LIKE … INCLUDING ALL)`; the rebuilding
connection's `search_path` puts that schema first, so the handlers' unqualified
table names land there). Each batch commits with the shadow checkpoint (table
`projection_rebuilds`), so the rebuild holds no long transaction that would delay
other readers of the global order. When the shadow has caught up, ONE transaction
locks the live checkpoint row (a running projector's next batch waits on it),
applies the last events, drops the live tables, moves the shadow tables into
`public` and sets the live checkpoint to the shadow's. Readers see the old tables
until that commit and the new ones after it; the swap itself takes ACCESS
EXCLUSIVE locks on the tables for milliseconds (readers queue briefly behind it).
A running projector then finds the checkpoint moved and continues from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from events.store import START, EventStore, GlobalCursor
from infrastructure.logs import get_logger
from projections.base import Projection
from projections.runner import (
    REBUILD_LOCK_CLASS,
    ProjectionStopped,
    advance_checkpoint,
    apply_events,
    ensure_checkpoint,
    lock_checkpoint,
    lock_key,
)

SHADOW_SCHEMA = "casework_rebuild"

Progress = Callable[[int, int], None]
"""Called with (events replayed so far, events in the log when last counted)."""


class RebuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class RebuildResult:
    name: str
    events: int
    cursor: GlobalCursor
    seconds: float


async def count_events_after(conn: asyncpg.Connection | asyncpg.Pool, after: GlobalCursor) -> int:
    """Events committed after `after` in the global order (visible or still held back)."""
    value = await conn.fetchval(
        """SELECT count(*) FROM events
            WHERE (transaction_id, global_position) > ($1::text::xid8, $2)""",
        str(after.transaction_id),
        after.global_position,
    )
    return int(value or 0)


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad table name {name!r}")
    return f'"{name}"'


async def rebuild(
    dsn: str,
    projection: Projection,
    *,
    progress: Progress | None = None,
    batch_size: int = 2000,
    settle: float = 5.0,
) -> RebuildResult:
    """Replay `projection` from the start into shadow tables and swap them in.

    Events committed after the swap began are left to the running projector, which
    continues from the swapped-in checkpoint. `settle`: how long to wait, at the end,
    for committed events still held back behind an older open transaction.
    """
    log = get_logger(projection=projection.name, component="rebuild")
    started = time.monotonic()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    conn = await asyncpg.connect(dsn, server_settings={"search_path": f"{SHADOW_SCHEMA}, public"})
    owned = False
    try:
        locked = await conn.fetchval(
            "SELECT pg_try_advisory_lock($1, $2)", REBUILD_LOCK_CLASS, lock_key(projection.name)
        )
        if not locked:
            raise RebuildError(f"a rebuild of {projection.name!r} is already running")
        owned = True
        store = EventStore(pool)
        async with conn.transaction():
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SHADOW_SCHEMA}")
            for table in projection.tables:
                t = _ident(table)
                await conn.execute(f"DROP TABLE IF EXISTS {SHADOW_SCHEMA}.{t}")
                await conn.execute(
                    f"CREATE TABLE {SHADOW_SCHEMA}.{t} (LIKE public.{t} INCLUDING ALL)"
                )
            await conn.execute(
                """INSERT INTO projection_rebuilds (name) VALUES ($1)
                   ON CONFLICT (name) DO UPDATE SET transaction_id = 0, global_position = 0,
                       events_done = 0, started_at = now(), updated_at = now()""",
                projection.name,
            )
        total = await count_events_after(conn, START)
        done = 0
        cursor = START
        if progress is not None:
            progress(done, total)

        async def replay(batch_cursor: GlobalCursor) -> tuple[GlobalCursor, int]:
            batch = await store.read_all(batch_cursor, batch_size)
            if not batch:
                return batch_cursor, 0
            try:
                await apply_events(conn, projection, batch)
            except ProjectionStopped as exc:
                raise RebuildError(f"rebuild of {projection.name!r} failed: {exc}") from exc
            new_cursor = GlobalCursor.of(batch[-1])
            await conn.execute(
                """UPDATE projection_rebuilds SET transaction_id = $2, global_position = $3,
                       events_done = events_done + $4, updated_at = now() WHERE name = $1""",
                projection.name,
                new_cursor.transaction_id,
                new_cursor.global_position,
                len(batch),
            )
            return new_cursor, len(batch)

        # Replay aside, one committed batch at a time, until the visible end of the log
        # (waiting briefly for events held back behind an older open transaction).
        deadline = time.monotonic() + settle
        while True:
            async with conn.transaction():
                cursor, n = await replay(cursor)
            done += n
            if progress is not None:
                total = max(total, done)
                progress(done, total)
            if n == batch_size:
                continue
            if time.monotonic() > deadline or not await count_events_after(conn, cursor):
                break
            await asyncio.sleep(0.01)

        # Swap: catch up the last events and exchange the tables in one transaction.
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '30s'")
            await ensure_checkpoint(conn, projection.name)
            await lock_checkpoint(conn, projection.name)
            while True:
                cursor, n = await replay(cursor)
                done += n
                if n == 0:
                    break
            for table in projection.tables:
                t = _ident(table)
                await conn.execute(f"DROP TABLE public.{t}")
                await conn.execute(f"ALTER TABLE {SHADOW_SCHEMA}.{t} SET SCHEMA public")
            await advance_checkpoint(conn, projection.name, cursor)
            await conn.execute("DELETE FROM projection_rebuilds WHERE name = $1", projection.name)
        if progress is not None:
            progress(done, max(total, done))
        seconds = time.monotonic() - started
        log.info("rebuilt", events=done, seconds=round(seconds, 3))
        return RebuildResult(projection.name, done, cursor, seconds)
    except BaseException:
        # Leave nothing half-done behind: the live tables were never touched.
        if owned and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.execute(
                    "DELETE FROM projection_rebuilds WHERE name = $1", projection.name
                )
                for table in projection.tables:
                    await conn.execute(f"DROP TABLE IF EXISTS {SHADOW_SCHEMA}.{_ident(table)}")
        raise
    finally:
        await conn.close()
        await pool.close()
