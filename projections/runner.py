"""The projector: follows the global order of the log into each projection's tables.

Guarantees
----------
* Exactly once. Each batch is applied and the projection's checkpoint advanced in
  ONE transaction, which first locks the checkpoint row and checks it still holds
  the cursor the batch was read from. Killed at any moment, the runner resumes from
  the last committed checkpoint: no event is applied twice or skipped (the global
  order of `EventStore.read_all` never skips one).
* One applier per projection. A runner holds a PostgreSQL session advisory lock
  per projection on the connection it applies with. A second runner polls
  `pg_try_advisory_lock` and takes over when the first dies (its connection closes
  and the lock goes). The checkpoint check above makes a lost lock harmless too.
* Nothing silently skipped. An event type a projection neither handles nor
  explicitly ignores stops that projection: the events before it are applied, the
  checkpoint stays just before it, and the checkpoint row records an error naming
  the event (id, type, position); `casework projections status` shows it. A handler
  that raises rolls its whole batch back and stops the projection the same way.
  Connection failures are not errors of the projection: the runner reconnects.
* Wakes on `LISTEN casework_events`, with a polling fallback (1 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from events.envelope import RecordedEvent
from events.store import NOTIFY_CHANNEL, START, EventStore, GlobalCursor
from infrastructure.database import TRANSIENT_ERRORS, close_pool
from infrastructure.logs import get_logger
from projections.base import Projection

# Advisory-lock class ids (the two-int form of pg_advisory_lock): "proj" and "rbld".
RUNNER_LOCK_CLASS = 0x70726F6A
REBUILD_LOCK_CLASS = 0x72626C64


FaultHook = Callable[[str, Sequence[RecordedEvent]], Awaitable[None]]
"""Test hook: awaited with a stage name ("applied") and the batch, inside the transaction."""


def lock_key(name: str) -> int:
    """The advisory-lock object id of a projection (non-negative, stable)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


class ProjectionStopped(RuntimeError):
    """A projection met an event it cannot handle; the checkpoint row names it."""

    def __init__(self, projection: str, event: RecordedEvent, problem: str) -> None:
        self.projection = projection
        self.event_id = event.event_id
        self.event_type = event.event_type
        self.global_position = event.global_position
        self.problem = problem
        super().__init__(
            f"projection {projection!r} stopped at event {event.event_id} "
            f"(type {event.event_type}, stream {event.stream_id} v{event.stream_version}, "
            f"global position {event.global_position}, transaction {event.transaction_id}): "
            f"{problem}"
        )


def unknown_event_problem(projection: Projection, event: RecordedEvent) -> str:
    return (
        f"no handler for event type {event.event_type!r}: add it to the handlers or the "
        f"ignore set of projection {projection.name!r}, then restart the projector"
    )


# --- checkpoints -------------------------------------------------------------------------


async def ensure_checkpoint(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(
        "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        name,
    )


async def read_checkpoint(conn: asyncpg.Connection, name: str) -> GlobalCursor:
    row = await conn.fetchrow(
        "SELECT transaction_id, global_position FROM projection_checkpoints WHERE name = $1",
        name,
    )
    if row is None:
        return START
    return GlobalCursor(row["transaction_id"], row["global_position"])


async def lock_checkpoint(conn: asyncpg.Connection, name: str) -> GlobalCursor:
    """The checkpoint, row-locked until the end of the current transaction."""
    row = await conn.fetchrow(
        """SELECT transaction_id, global_position FROM projection_checkpoints
            WHERE name = $1 FOR UPDATE""",
        name,
    )
    if row is None:
        raise RuntimeError(f"projection {name!r} has no checkpoint row")
    return GlobalCursor(row["transaction_id"], row["global_position"])


async def advance_checkpoint(conn: asyncpg.Connection, name: str, cursor: GlobalCursor) -> None:
    await conn.execute(
        """UPDATE projection_checkpoints
              SET transaction_id = $2, global_position = $3, updated_at = now(),
                  last_error = NULL, error_event_id = NULL, error_event_type = NULL,
                  error_global_position = NULL, error_at = NULL
            WHERE name = $1""",
        name,
        cursor.transaction_id,
        cursor.global_position,
    )


async def record_error(conn: asyncpg.Connection, stopped: ProjectionStopped) -> None:
    await conn.execute(
        """UPDATE projection_checkpoints
              SET last_error = $2, error_event_id = $3, error_event_type = $4,
                  error_global_position = $5, error_at = now(), updated_at = now()
            WHERE name = $1""",
        stopped.projection,
        str(stopped),
        stopped.event_id,
        stopped.event_type,
        stopped.global_position,
    )


async def apply_events(
    conn: asyncpg.Connection, projection: Projection, events: Sequence[RecordedEvent]
) -> RecordedEvent | None:
    """Apply `events` in order inside the caller's transaction; return the last one applied.

    Raises ProjectionStopped at the first event the projection does not know, or
    whose handler fails (the caller's transaction then decides what to keep).
    """
    last: RecordedEvent | None = None
    for event in events:
        if event.event_type in projection.handlers:
            try:
                await projection.apply(conn, event)
            except TRANSIENT_ERRORS:
                raise
            except (asyncpg.PostgresError, ValueError, KeyError, TypeError) as exc:
                raise ProjectionStopped(
                    projection.name, event, f"handler failed: {type(exc).__name__}: {exc}"
                ) from exc
        elif event.event_type not in projection.ignores:
            raise ProjectionStopped(
                projection.name, event, unknown_event_problem(projection, event)
            )
        last = event
    return last


# --- the runner ----------------------------------------------------------------------------


@dataclass
class BatchResult:
    applied: int
    cursor: GlobalCursor
    stopped: ProjectionStopped | None = None


class ProjectionRunner:
    """Runs one projection: lock, then batches from the checkpoint until told to stop."""

    def __init__(
        self,
        projection: Projection,
        dsn: str,
        store: EventStore,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        lock_poll_interval: float = 1.0,
        wake: asyncio.Event | None = None,
        fault: FaultHook | None = None,
        runner_id: str | None = None,
    ) -> None:
        self.projection = projection
        self.dsn = dsn
        self.store = store
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lock_poll_interval = lock_poll_interval
        self.wake = wake or asyncio.Event()
        self.fault = fault
        self.runner_id = runner_id or uuid.uuid4().hex[:8]
        self.holds_lock = False
        self.log = get_logger(projection=projection.name, runner=self.runner_id)

    # One batch ---------------------------------------------------------------------------

    async def step(self, conn: asyncpg.Connection, cursor: GlobalCursor) -> BatchResult:
        """Read one batch after `cursor` and apply it with the checkpoint, atomically."""
        batch = await self.store.read_all(cursor, self.batch_size)
        if not batch:
            return BatchResult(0, cursor)
        known: list[RecordedEvent] = []
        stopped: ProjectionStopped | None = None
        for event in batch:
            if not self.projection.knows(event.event_type):
                stopped = ProjectionStopped(
                    self.projection.name, event, unknown_event_problem(self.projection, event)
                )
                break
            known.append(event)
        try:
            async with conn.transaction():
                current = await lock_checkpoint(conn, self.projection.name)
                if current != cursor:
                    # Someone else moved the checkpoint (a rebuild swapped its tables in,
                    # or a runner that lost its lock): re-read from where it stands now.
                    self.log.info("checkpoint moved", expected=str(cursor), found=str(current))
                    return BatchResult(0, current)
                last = await apply_events(conn, self.projection, known)
                if self.fault is not None:
                    await self.fault("applied", known)
                if last is not None:
                    await advance_checkpoint(conn, self.projection.name, GlobalCursor.of(last))
                if stopped is not None:
                    await record_error(conn, stopped)
        except ProjectionStopped as failed:
            # A handler failed: its batch is rolled back whole; record why and stop.
            await record_error(conn, failed)
            return BatchResult(0, cursor, failed)
        new_cursor = GlobalCursor.of(last) if last is not None else cursor
        return BatchResult(len(known), new_cursor, stopped)

    async def catch_up(self, conn: asyncpg.Connection, *, wait: float = 10.0) -> int:
        """Apply every event committed so far; return how many. Raises ProjectionStopped.

        Committed events held back behind an older transaction still open anywhere on
        the server (xids are cluster-wide) are waited for, up to `wait` seconds.
        """
        await ensure_checkpoint(conn, self.projection.name)
        cursor = await read_checkpoint(conn, self.projection.name)
        total = 0
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            result = await self.step(conn, cursor)
            total += result.applied
            if result.stopped is not None:
                raise result.stopped
            if result.cursor != cursor:
                cursor = result.cursor
                continue
            if not await self._held_back(cursor) or asyncio.get_running_loop().time() > deadline:
                return total
            await asyncio.sleep(0.01)

    # The loop -------------------------------------------------------------------------------

    async def acquire_lock(self, conn: asyncpg.Connection, shutdown: asyncio.Event) -> bool:
        """Take the projection's advisory lock, polling while another runner holds it."""
        key = lock_key(self.projection.name)
        waiting_logged = False
        while not shutdown.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", RUNNER_LOCK_CLASS, key):
                self.holds_lock = True
                self.log.info("projection lock taken")
                return True
            if not waiting_logged:
                self.log.info("another runner holds the projection; waiting to take over")
                waiting_logged = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), self.lock_poll_interval)
        return False

    async def _wait_for_events(self, shutdown: asyncio.Event, wait_seconds: float) -> None:
        waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(shutdown.wait())]
        try:
            await asyncio.wait(waiters, timeout=wait_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _held_back(self, cursor: GlobalCursor) -> bool:
        """True when committed events after `cursor` wait for an older transaction to end."""
        value = await self.store.pool.fetchval(
            """SELECT EXISTS (SELECT 1 FROM events
                WHERE (transaction_id, global_position) > ($1::text::xid8, $2))""",
            str(cursor.transaction_id),
            cursor.global_position,
        )
        return bool(value)

    async def run_connected(self, conn: asyncpg.Connection, shutdown: asyncio.Event) -> None:
        """Hold the lock on `conn` and apply batches until shutdown or a stop."""
        await ensure_checkpoint(conn, self.projection.name)
        if not await self.acquire_lock(conn, shutdown):
            return
        cursor = await read_checkpoint(conn, self.projection.name)
        self.log.info("projecting", position=cursor.global_position)
        while not shutdown.is_set():
            # Cleared before reading, so a notification that arrives while this batch is
            # read and applied wakes the wait below at once.
            self.wake.clear()
            result = await self.step(conn, cursor)
            if result.stopped is not None:
                self.log.error("projection stopped", error=str(result.stopped))
                raise result.stopped
            if result.applied or result.cursor != cursor:
                cursor = result.cursor
                continue
            # Caught up: a notification, the poll interval or shutdown wakes us. Events
            # held back behind a still-open older transaction are retried soon.
            timeout = 0.02 if await self._held_back(cursor) else self.poll_interval
            await self._wait_for_events(shutdown, timeout)

    async def run(self, shutdown: asyncio.Event) -> None:
        """Run until shutdown (or until the projection stops on an event it cannot handle)."""
        backoff = 0.5
        while not shutdown.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn)
                await self.run_connected(conn, shutdown)
                return
            except ProjectionStopped:
                return
            except Exception as exc:
                # Lost connections, timeouts and the unexpected alike: nothing was
                # committed past the checkpoint, so reconnect and carry on from it.
                if self.holds_lock:  # it was projecting: a new loss, not a repeated one
                    backoff = 0.5
                transient = isinstance(exc, TRANSIENT_ERRORS)
                self.log.warning(
                    "connection lost; reconnecting" if transient else "runner failed; restarting",
                    error=f"{type(exc).__name__}: {exc}",
                    backoff=backoff,
                    exc_info=not transient,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(shutdown.wait(), backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.holds_lock = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))


# --- the service -------------------------------------------------------------------------


async def _listen(dsn: str, wakes: Sequence[asyncio.Event], shutdown: asyncio.Event) -> None:
    """Set every wake event on each NOTIFY; reconnect if the listening connection drops."""
    log = get_logger(component="projector-listener")

    def notified(*_: Any) -> None:
        for wake in wakes:
            wake.set()

    while not shutdown.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn)
            await conn.add_listener(NOTIFY_CHANNEL, notified)
            notified()
            while not shutdown.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(shutdown.wait(), 5.0)
        except Exception as exc:
            # Whatever ended the connection, the runners poll meanwhile: listen again soon.
            transient = isinstance(exc, TRANSIENT_ERRORS)
            log.warning(
                "listener connection lost; polling until it is back",
                error=f"{type(exc).__name__}: {exc}",
                exc_info=not transient,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), 2.0)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))


async def run_projections(
    dsn: str,
    projections: Sequence[Projection],
    shutdown: asyncio.Event,
    *,
    batch_size: int = 500,
    poll_interval: float = 1.0,
    lock_poll_interval: float = 1.0,
) -> None:
    """Run a runner per projection plus the NOTIFY listener until `shutdown` is set."""
    log = get_logger(component="projector")
    # A projector started while its database is down or restarting waits for it.
    while True:
        try:
            # No connection floor: after a restart the pool reconnects when a runner next
            # reads, instead of a background task retrying (and logging) on its own.
            pool = await asyncpg.create_pool(dsn, min_size=0, max_size=max(2, len(projections)))
            break
        except TRANSIENT_ERRORS as exc:
            log.warning("database not available yet; retrying", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), 2.0)
            if shutdown.is_set():
                return
    assert pool is not None
    store = EventStore(pool)
    runners = [
        ProjectionRunner(
            p,
            dsn,
            store,
            batch_size=batch_size,
            poll_interval=poll_interval,
            lock_poll_interval=lock_poll_interval,
        )
        for p in projections
    ]
    tasks = [
        asyncio.create_task(r.run(shutdown), name=f"projection-{r.projection.name}")
        for r in runners
    ]
    listener = asyncio.create_task(_listen(dsn, [r.wake for r in runners], shutdown))
    log.info("projector started", projections=[p.name for p in projections])
    try:
        await shutdown.wait()
    finally:
        shutdown.set()
        ended = await asyncio.gather(*tasks, listener, return_exceptions=True)
        for task, outcome in zip([*tasks, listener], ended, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                log.error("a projector task failed", task=task.get_name(), exc_info=outcome)
        await close_pool(pool)
        log.info("projector stopped")
