"""Readers of the global order never skip an event, whatever order writers commit in."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from events.store import START, EventStore, GlobalCursor
from tests.events.factories import contact_event

WRITERS = 8
EVENTS_PER_WRITER = 2_000
BATCH = 20  # events per append


async def test_reader_sees_uncommitted_gap_only_after_it_closes(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """A transaction that took a lower position commits after a higher one."""
    slow = await asyncpg.connect(database_url)
    try:
        tx = slow.transaction()
        await tx.start()
        await slow.execute(
            """INSERT INTO events (stream_id, stream_version, event_id, event_type,
                   schema_version, data, metadata, occurred_at)
               SELECT 'case-slow', 1, $1, event_type, schema_version, data, metadata, occurred_at
                 FROM (SELECT 'ContactLogged' AS event_type, 1 AS schema_version,
                              $2::jsonb AS data, $3::jsonb AS metadata, now() AS occurred_at) s""",
            uuid.uuid4(),
            '{"contact_id": "c", "kind": "phone", "contact_date": "2026-01-01",'
            ' "duration_minutes": 1, "notes": ""}',
            '{"actor_id": "w", "actor_role": "caseworker"}',
        )
        await store.append("case-fast", 0, [contact_event(1)])
        # The fast event has a higher position but must not be handed out yet.
        assert await store.read_all(START) == []
        await tx.commit()
    finally:
        await slow.close()
    # Transactions elsewhere on the server may hold the watermark back a moment longer.
    seen = await store.read_all(START)
    for _ in range(500):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.01)
        seen = await store.read_all(START)
    assert [e.stream_id for e in seen] == ["case-slow", "case-fast"]


@pytest.mark.slow
async def test_concurrent_writers_and_a_follower(store: EventStore, pool: asyncpg.Pool) -> None:
    done = asyncio.Event()

    async def writer(w: int) -> None:
        stream = f"case-writer-{w}"
        version = 0
        for start in range(0, EVENTS_PER_WRITER, BATCH):
            batch = [contact_event(start + i) for i in range(BATCH)]
            await store.append(stream, version, batch)
            version += BATCH

    seen: list[tuple[str, int]] = []
    seen_ids: set[uuid.UUID] = set()

    total = WRITERS * EVENTS_PER_WRITER

    async def reader() -> None:
        # The watermark may hold events back while any transaction of the server (even
        # in another database) is open, so the reader stops only once it has them all;
        # an event skipped past would never arrive and the wait would time out.
        cursor = GlobalCursor()
        while not (done.is_set() and len(seen) == total):
            batch = await store.read_all(cursor, limit=500)
            for event in batch:
                assert event.event_id not in seen_ids, "an event was delivered twice"
                seen_ids.add(event.event_id)
                seen.append((event.stream_id, event.stream_version))
            if batch:
                cursor = GlobalCursor.of(batch[-1])
            else:
                await asyncio.sleep(0.005)

    follower = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    done.set()
    await asyncio.wait_for(follower, timeout=60)
    assert len(seen) == total == await pool.fetchval("SELECT count(*) FROM events")
    per_stream: dict[str, list[int]] = {}
    for stream, version in seen:
        per_stream.setdefault(stream, []).append(version)
    for versions in per_stream.values():
        # In the reader's order each stream's versions come contiguous and ascending.
        assert versions == list(range(1, EVENTS_PER_WRITER + 1))
