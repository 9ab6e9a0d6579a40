"""Read models after random valid lifecycles equal the read models rebuilt from scratch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.simulation import CLIENT_NAME, RandomChooser, simulate_case
from events.store import EventStore
from projections.catalog import all_projections, projection_named
from projections.rebuild import RebuildError, RebuildResult, rebuild
from tests.projections.conftest import append_interleaved, catch_up, snapshot

T = TypeVar("T")


class DataChooser:
    """A chooser drawing from hypothesis, so failing lifecycles shrink."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def choice(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(list(options)))

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_projected_equals_rebuilt_from_scratch(
    data: st.DataObject, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = DataChooser(data)
    cases = [
        simulate_case(chooser, steps=data.draw(st.integers(0, 25)))
        for _ in range(data.draw(st.integers(1, 4)))
    ]
    await append_interleaved(store, cases, chooser)
    await catch_up(database_url, store)
    projected = {p.name: await snapshot(pool, p) for p in all_projections()}
    for projection in all_projections():
        await rebuild(database_url, projection, batch_size=7, settle=30)
    rebuilt = {p.name: await snapshot(pool, p) for p in all_projections()}
    assert projected["case_summary"]["case_summary"], "nothing was projected"
    assert projected == rebuilt


async def test_read_models_hold_no_client_details(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(7)
    cases = [simulate_case(chooser, steps=40) for _ in range(10)]
    await append_interleaved(store, cases, chooser)
    await catch_up(database_url, store)
    for projection in all_projections():
        for table, rows in (await snapshot(pool, projection)).items():
            for row in rows:
                assert CLIENT_NAME not in repr(row), f"{table} holds a client name: {row}"
                assert "1980-02-03" not in repr(row) and "1980, 2, 3" not in repr(row)
    timeline = await pool.fetchval("SELECT count(*) FROM case_timeline")
    assert timeline == await pool.fetchval("SELECT count(*) FROM events")


async def test_rebuild_swaps_in_while_readers_and_a_projector_run(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(11)
    cases = [simulate_case(chooser, steps=30) for _ in range(20)]
    await append_interleaved(store, cases, chooser)
    await catch_up(database_url, store)
    summary = projection_named("case_summary")
    before = await snapshot(pool, summary)
    progress: list[tuple[int, int]] = []
    result = await rebuild(
        database_url, summary, batch_size=50, progress=lambda d, t: progress.append((d, t))
    )
    assert await snapshot(pool, summary) == before
    total = await pool.fetchval("SELECT count(*) FROM events")
    assert result.events == total
    assert progress[-1] == (total, total)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    # the live runner continues from the swapped-in checkpoint
    more = [simulate_case(chooser, steps=5) for _ in range(3)]
    await append_interleaved(store, more, chooser)
    await catch_up(database_url, store)
    assert await pool.fetchval("SELECT count(*) FROM case_summary") == 23


async def test_a_second_rebuild_of_the_same_projection_is_refused(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(13)
    await append_interleaved(store, [simulate_case(chooser, steps=30) for _ in range(30)], chooser)
    timeline = projection_named("timeline")
    results = await asyncio.gather(
        rebuild(database_url, timeline, batch_size=20),
        rebuild(database_url, timeline, batch_size=20),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, RebuildError)]
    done = [r for r in results if isinstance(r, RebuildResult)]
    assert len(refused) == 1 and len(done) == 1, results
    assert "already running" in str(refused[0])
    total = await pool.fetchval("SELECT count(*) FROM events")
    assert await pool.fetchval("SELECT count(*) FROM case_timeline") == total
    assert await pool.fetchval("SELECT count(*) FROM projection_rebuilds") == 0
