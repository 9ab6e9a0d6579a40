"""The projector service through database restarts and outages, at any moment.

Two ways to break its database while events keep being appended:

* a relay of our own to the tests' real PostgreSQL (tests/relay.py), which the test
  cuts (every connection ends mid-operation) or takes down (connections refused);
* a PostgreSQL of the test's own, really restarted (fast and immediate shutdowns): the
  server tells each session it is terminated, which asyncpg meets differently (a query
  sent on such a connection raised InternalClientError, and the lag reporter ended).

The whole service runs as `casework projector` runs it: the runners, the NOTIFY
listener and the lag reporter (reporting without pause, so faults meet it mid-query).
It must neither end nor raise: it catches up once the database is back, and a stop
asked for meanwhile ends it cleanly (what raises here is the process's exit code 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from application.migrations import apply_migrations
from devtools.simulation import RandomChooser, simulate_case
from events.store import EventStore
from infrastructure.database import EMBEDDED_DATABASE, ensure_database
from infrastructure.embedded_postgres import EmbeddedPostgres, free_port
from infrastructure.settings import Settings
from projections.catalog import all_projections
from projections.service import run_projector
from projections.status import projection_status
from tests.projections.conftest import append_interleaved
from tests.relay import Relay, relay, through_port

pytestmark = pytest.mark.timeout(300)


async def _until(probe: Callable[[], Awaitable[bool]], what: str, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not await probe():
        assert time.monotonic() < deadline, f"not within {limit:.0f} s: {what}"
        await asyncio.sleep(0.05)


async def _keep_appending(store: EventStore, chooser: RandomChooser, stop: asyncio.Event) -> int:
    """Append cases (directly, not through the relay) until told to stop; return how many."""
    cases = 0
    while not stop.is_set():
        await append_interleaved(store, [simulate_case(chooser, steps=6)], chooser)
        cases += 1
        await asyncio.sleep(0.02)
    return cases


async def _caught_up(pool: asyncpg.Pool) -> bool:
    statuses = await projection_status(pool, all_projections())
    return all(s.lag_events == 0 and not s.last_error for s in statuses)


async def _some_progress(pool: asyncpg.Pool) -> bool:
    statuses = await projection_status(pool, all_projections())
    return all(s.global_position > 0 for s in statuses)


def _start(dsn: str, shutdown: asyncio.Event) -> asyncio.Task[None]:
    settings = Settings.model_validate({"CASEWORK_METRICS_PORT": free_port()})
    return asyncio.create_task(run_projector(settings, dsn, shutdown, lag_every=0.01))


async def _fault(forwarding: Relay, rng: random.Random) -> str:
    """One restart or outage of the database as the projector sees it."""
    if rng.random() < 0.5:
        forwarding.cut()  # a fast restart: connections end, new ones are answered at once
        return "restart"
    await forwarding.down()
    await asyncio.sleep(rng.uniform(0.2, 2.5))
    await forwarding.listen()
    return "outage"


@dataclass
class Scene:
    forwarding: Relay
    projector: asyncio.Task[None]
    shutdown: asyncio.Event
    stop_appending: asyncio.Event
    appender: asyncio.Task[int]


@contextlib.asynccontextmanager
async def projecting_through_relay(
    seed: int, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> AsyncIterator[Scene]:
    """The service projecting through a relay while cases are appended; on exit it is
    stopped, and whatever it raised is raised."""
    shutdown, stop_appending = asyncio.Event(), asyncio.Event()
    async with relay(free_port(), database_url) as forwarding:
        projector = _start(through_port(database_url, forwarding.port), shutdown)
        appender = asyncio.create_task(_keep_appending(store, RandomChooser(seed), stop_appending))
        try:
            await _until(lambda: _some_progress(pool), "the projector applies events")
            yield Scene(forwarding, projector, shutdown, stop_appending, appender)
        finally:
            stop_appending.set()
            shutdown.set()
            await asyncio.wait_for(projector, 60)
            await appender


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_projector_rides_out_restarts_and_outages_at_any_moment(
    seed: int, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    rng = random.Random(seed)
    async with projecting_through_relay(seed, store, pool, database_url) as scene:
        for _ in range(4):
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            await _fault(scene.forwarding, rng)
            assert not scene.projector.done(), "the projector ended during a fault"
        scene.stop_appending.set()
        assert await scene.appender > 0
        await _until(lambda: _caught_up(pool), "every projection catches up")
        assert not scene.projector.done()


@pytest.mark.parametrize("seed", [4, 5])
async def test_a_projector_stopped_while_its_database_is_away_ends_cleanly(
    seed: int, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    rng = random.Random(seed)
    async with projecting_through_relay(seed, store, pool, database_url) as scene:
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        await scene.forwarding.down()
        # Stopped at some moment of its reconnecting: at once, or after some retries.
        await asyncio.sleep(rng.uniform(0.0, 3.0))
        scene.shutdown.set()
        await asyncio.wait_for(scene.projector, 60)


# --- a PostgreSQL of the test's own, really restarted -----------------------------------


async def _append_through_restarts(dsn: str, seed: int, stop: asyncio.Event) -> int:
    """Append cases until told to stop, starting over after each lost connection (a case
    cut short stays a valid prefix of one); return how many cases were begun."""
    chooser, begun = RandomChooser(seed), 0
    while not stop.is_set():
        try:
            appender = await asyncpg.create_pool(dsn, min_size=0, max_size=2)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.2)
            continue
        try:
            store = EventStore(appender)
            while not stop.is_set():
                begun += 1
                await append_interleaved(store, [simulate_case(chooser, steps=4)], chooser)
        except Exception:  # the restart cut it: a new pool
            await asyncio.sleep(0.1)
        finally:
            appender.terminate()
    return begun


async def test_the_projector_rides_out_real_postgres_restarts(tmp_path: Path) -> None:
    rng = random.Random(11)
    postgres = EmbeddedPostgres(tmp_path / "postgres", free_port())
    await asyncio.to_thread(postgres.start)
    try:
        await ensure_database(postgres.dsn, EMBEDDED_DATABASE)
        dsn = f"postgresql://postgres@127.0.0.1:{postgres.port}/{EMBEDDED_DATABASE}"
        await apply_migrations(dsn)
        shutdown, stop_appending = asyncio.Event(), asyncio.Event()
        projector = _start(dsn, shutdown)
        appender = asyncio.create_task(_append_through_restarts(dsn, 11, stop_appending))
        try:
            for mode in ("fast", "immediate", "fast", "immediate", "fast", "fast"):
                await asyncio.sleep(rng.uniform(0.3, 2.0))
                await asyncio.to_thread(postgres.restart, mode)
                assert not projector.done(), "the projector ended during a restart"
            stop_appending.set()
            assert await appender > 0
            pool = await asyncpg.create_pool(dsn, min_size=0, max_size=2)
            try:
                await _until(lambda: _caught_up(pool), "every projection catches up")
            finally:
                await pool.close()
            assert not projector.done()
        finally:
            stop_appending.set()
            shutdown.set()
            await asyncio.wait_for(projector, 60)  # raises what the service raised
            await appender
    finally:
        await asyncio.to_thread(postgres.stop, "immediate")
