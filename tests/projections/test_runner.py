"""The projector's guarantees: exactly once, one applier, no silent skips, wake on NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import Literal

import asyncpg
import pytest

from devtools.simulation import RandomChooser, simulate_case
from events.catalog import default_registry
from events.envelope import EventMetadata, NewEvent, RecordedEvent
from events.registry import DomainEvent
from events.store import START, EventStore, GlobalCursor
from projections.base import CASE_EVENT_TYPES, Projection
from projections.catalog import all_projections, projection_named
from projections.runner import ProjectionRunner, ProjectionStopped, read_checkpoint, run_projections
from projections.status import projection_status
from tests.events.factories import contact_event
from tests.projections.conftest import append_interleaved

COUNTER_TABLE = """CREATE TABLE IF NOT EXISTS test_applied (
    event_id uuid PRIMARY KEY, applications integer NOT NULL, runner text NOT NULL)"""


def counting_projection(
    runner_of: dict[int, str] | None = None, delay: float = 0.0, name: str = "counter"
) -> Projection:
    """Counts how many times each event is applied (and by which runner connection)."""

    async def count(conn: asyncpg.Connection, event: RecordedEvent) -> None:
        if delay:
            await asyncio.sleep(delay)
        runner = (runner_of or {}).get(id(conn), "?")
        await conn.execute(
            """INSERT INTO test_applied (event_id, applications, runner) VALUES ($1, 1, $2)
               ON CONFLICT (event_id) DO UPDATE SET applications = test_applied.applications + 1""",
            event.event_id,
            runner,
        )

    return Projection(
        name=name,
        tables=("test_applied",),
        handlers=dict.fromkeys(CASE_EVENT_TYPES, count),
    )


async def append_contacts(store: EventStore, stream: str, n: int, start_version: int = 0) -> None:
    for i in range(0, n, 10):
        size = min(10, n - i)
        await store.append(
            stream, start_version + i, [contact_event(start_version + i + k) for k in range(size)]
        )


async def assert_applied_once(pool: asyncpg.Pool, expected: int) -> None:
    rows = await pool.fetch("SELECT applications FROM test_applied")
    assert len(rows) == expected
    assert {r["applications"] for r in rows} <= {1}, "an event was applied twice"


@pytest.fixture
async def counter(pool: asyncpg.Pool) -> None:
    await pool.execute(COUNTER_TABLE)


async def test_failure_between_write_and_checkpoint_rolls_back(
    counter: None, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await append_contacts(store, "case-x", 40)
    failures = 0

    async def fail_once(stage: str, batch: Sequence[RecordedEvent]) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("killed after the read-model write, before the checkpoint")

    runner = ProjectionRunner(counting_projection(), database_url, store, batch_size=15)
    runner.fault = fail_once
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(RuntimeError, match="killed"):
            await runner.catch_up(conn)
        assert await pool.fetchval("SELECT count(*) FROM test_applied") == 0
        assert await read_checkpoint(conn, "counter") == START
        assert await runner.catch_up(conn) == 40
    finally:
        await conn.close()
    await assert_applied_once(pool, 40)


async def test_killed_at_any_moment_resumes_without_double_apply_or_skip(
    counter: None, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """Kill the runner's connection mid-batch, cancel its task again and again; resume."""
    total = 300
    await append_contacts(store, "case-y", total)
    projection = counting_projection(delay=0.002)

    # A connection killed from outside, mid-transaction: the runner reconnects.
    shutdown = asyncio.Event()
    runner = ProjectionRunner(projection, database_url, store, batch_size=7)
    task = asyncio.create_task(runner.run(shutdown))
    killed = 0
    for _ in range(400):
        killed = await pool.fetchval(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                  AND state = 'idle in transaction'
                  AND query LIKE '%INSERT INTO test_applied%'"""
        )
        if killed:
            break
        await asyncio.sleep(0.002)
    assert killed, "never caught the runner mid-transaction"
    await asyncio.sleep(0.6)  # past the reconnect backoff: it applies more
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    # Cancelled at arbitrary moments (mid-batch, mid-commit, while waiting).
    for attempt in range(8):
        shutdown = asyncio.Event()
        runner = ProjectionRunner(projection, database_url, store, batch_size=7)
        task = asyncio.create_task(runner.run(shutdown))
        await asyncio.sleep(0.02 + 0.007 * attempt)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await pool.fetchval("SELECT count(*) FROM test_applied") < total

    conn = await asyncpg.connect(database_url)
    try:
        await ProjectionRunner(projection, database_url, store).catch_up(conn)
    finally:
        await conn.close()
    await assert_applied_once(pool, total)
    conn = await asyncpg.connect(database_url)
    try:
        assert await read_checkpoint(conn, "counter") != START
    finally:
        await conn.close()


async def test_two_runners_never_both_apply_and_the_second_takes_over(
    counter: None, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    runner_of: dict[int, str] = {}
    projection = counting_projection(runner_of)
    shutdowns = [asyncio.Event(), asyncio.Event()]
    runners = [
        ProjectionRunner(
            projection,
            database_url,
            store,
            batch_size=5,
            poll_interval=0.05,
            lock_poll_interval=0.05,
            runner_id=f"r{i}",
        )
        for i in range(2)
    ]

    # Tag each runner's connection so the handler can record who applied.
    for runner in runners:
        original = runner.run_connected

        async def tagged(
            conn: asyncpg.Connection,
            shutdown: asyncio.Event,
            _runner: ProjectionRunner = runner,
            _original: object = original,
        ) -> None:
            runner_of[id(conn)] = _runner.runner_id
            await ProjectionRunner.run_connected(_runner, conn, shutdown)

        runner.run_connected = tagged  # type: ignore[method-assign]

    tasks = [asyncio.create_task(r.run(s)) for r, s in zip(runners, shutdowns, strict=True)]
    await append_contacts(store, "case-z", 60)
    await _wait_count(pool, 60)
    holders = [r for r in runners if r.holds_lock]
    assert len(holders) == 1
    first = holders[0]
    appliers = {r["runner"] for r in await pool.fetch("SELECT DISTINCT runner FROM test_applied")}
    assert appliers == {first.runner_id}

    # The holder dies: the other takes over and carries on from the checkpoint.
    index = runners.index(first)
    tasks[index].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tasks[index]
    await append_contacts(store, "case-z", 40, start_version=60)
    await _wait_count(pool, 100)
    second = runners[1 - index]
    assert second.holds_lock
    later = await pool.fetch(
        "SELECT DISTINCT runner FROM test_applied WHERE runner <> $1", first.runner_id
    )
    assert {r["runner"] for r in later} == {second.runner_id}
    for s in shutdowns:
        s.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await assert_applied_once(pool, 100)


async def _wait_count(pool: asyncpg.Pool, n: int, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await pool.fetchval("SELECT count(*) FROM test_applied") >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {n} events applied in {seconds}s")


class UnheardOf(DomainEvent):
    """A test-only event type no projection knows."""

    type: Literal["UnheardOf"] = "UnheardOf"
    detail: str


async def test_unknown_event_type_stops_the_projection_with_a_clear_error(
    pool: asyncpg.Pool, database_url: str
) -> None:
    registry = default_registry()
    registry.register(UnheardOf)
    store = EventStore(pool, registry)
    case_id, events = simulate_case(RandomChooser(3), steps=3)
    stream = f"case-{case_id}"
    await store.append(stream, 0, events)
    odd = NewEvent(
        event_id=uuid.uuid4(),
        event_type="UnheardOf",
        schema_version=1,
        data={"detail": "x"},
        metadata=EventMetadata(actor_id="tester", actor_role="system"),
        occurred_at=events[-1].occurred_at,
    )
    await store.append(stream, len(events), [odd])
    await store.append(stream, len(events) + 1, [contact_event(1)])

    summary = projection_named("case_summary")
    shutdown = asyncio.Event()
    runner = ProjectionRunner(summary, database_url, store, poll_interval=0.05)
    await asyncio.wait_for(runner.run(shutdown), 5)  # returns by itself: stopped
    assert not shutdown.is_set()

    odd_position = await pool.fetchval(
        "SELECT global_position FROM events WHERE event_id = $1", odd.event_id
    )
    [status] = await projection_status(pool, [summary])
    assert status.state == "stopped"
    assert status.error_event_id == odd.event_id
    assert status.error_event_type == "UnheardOf"
    assert status.error_global_position == odd_position
    assert status.last_error is not None
    assert str(odd.event_id) in status.last_error
    assert "UnheardOf" in status.last_error
    assert f"global position {odd_position}" in status.last_error
    # The events before it are applied; it and the ones after are not.
    assert status.global_position == odd_position - 1
    assert status.lag_events == 2
    version = await pool.fetchval("SELECT stream_version FROM case_summary")
    assert version <= len(events)

    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(ProjectionStopped, match="UnheardOf"):
            await ProjectionRunner(summary, database_url, store).catch_up(conn)
    finally:
        await conn.close()


async def test_a_failing_handler_rolls_back_its_batch_and_stops(
    counter: None, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await append_contacts(store, "case-f", 10)
    bad = (await store.read_stream("case-f"))[6]

    async def explode(conn: asyncpg.Connection, event: RecordedEvent) -> None:
        await conn.execute("INSERT INTO test_applied VALUES ($1, 1, 'x')", event.event_id)
        if event.event_id == bad.event_id:
            raise ValueError("cannot fold this")

    projection = Projection(
        "exploding", ("test_applied",), dict.fromkeys(CASE_EVENT_TYPES, explode)
    )
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(ProjectionStopped, match="handler failed: ValueError"):
            await ProjectionRunner(projection, database_url, store, batch_size=100).catch_up(conn)
    finally:
        await conn.close()
    assert await pool.fetchval("SELECT count(*) FROM test_applied") == 0
    [status] = await projection_status(pool, [projection])
    assert status.error_event_id == bad.event_id
    assert status.global_position == 0


async def test_status_reports_lag_and_the_projector_wakes_on_notify(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(5)
    await append_interleaved(store, [simulate_case(chooser, steps=10) for _ in range(3)], chooser)
    total = await pool.fetchval("SELECT count(*) FROM events")
    statuses = await projection_status(pool, all_projections())
    assert all(s.lag_events == total and s.lag_seconds >= 0 for s in statuses)
    assert not any(s.running for s in statuses)

    shutdown = asyncio.Event()
    # Polling every 30 s: only NOTIFY can make the new event visible quickly.
    task = asyncio.create_task(
        run_projections(database_url, all_projections(), shutdown, poll_interval=30)
    )
    try:
        for _ in range(500):
            statuses = await projection_status(pool, all_projections())
            if all(s.lag_events == 0 for s in statuses):
                break
            await asyncio.sleep(0.01)
        assert all(s.lag_events == 0 and s.lag_seconds == 0 and s.running for s in statuses)
        case_id, events = simulate_case(chooser, steps=0)
        await store.append(f"case-{case_id}", 0, events)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await _until(lambda: _timeline_count(pool), total + 1)
        assert loop.time() - started < 2.0
    finally:
        shutdown.set()
        await task
    conn = await asyncpg.connect(database_url)
    try:
        cursor = await read_checkpoint(conn, "timeline")
        assert cursor > GlobalCursor()
    finally:
        await conn.close()


async def _timeline_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM case_timeline"))


async def _until(probe: object, expected: int, seconds: float = 5.0) -> None:
    assert callable(probe)
    for _ in range(int(seconds / 0.01)):
        if await probe() >= expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"did not reach {expected} in {seconds}s")
