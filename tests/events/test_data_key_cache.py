"""The worker's cache of live data keys (events/crypto.py): one SQL statement per steady
append, and never an event sealed with a destroyed key written after `forget` returned.

Against the real PostgreSQL. "Another process" is a second pool and store, as the API
that runs `client forget` is another process than the worker that appends.
"""

from __future__ import annotations

import json
from typing import Any, cast

import asyncpg

from events.crypto import FieldCipher, sealed_fields
from events.keys import ClientKeys
from events.personal import ERASED_TEXT
from events.store import EventStore
from events.vocabulary import ContactLogged
from tests.events.test_personal_data import (
    RING,
    SECRET_NOTE,
    append,
    contact,
    open_case,
    raw_data,
)


class CountingPool:
    """The real pool, counting the statements sent through it (no mock: every call
    reaches PostgreSQL)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.statements: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._pool, name)
        if name not in ("fetch", "fetchrow", "fetchval", "execute"):
            return method

        async def counted(query: str, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(" ".join(query.split()[:3]))
            return await method(query, *args, **kwargs)

        return counted


def counting_store(pool: asyncpg.Pool, **cache: Any) -> tuple[EventStore, CountingPool]:
    counting = CountingPool(pool)
    return EventStore(cast(asyncpg.Pool, counting), cipher=FieldCipher(RING, **cache)), counting


async def test_a_steady_append_to_a_case_is_one_statement(pool: asyncpg.Pool) -> None:
    store, counting = counting_store(pool)
    stream = await open_case(store)  # the open, then a first contact (its key looked up)
    for n in range(2, 6):
        counting.statements.clear()
        await append(store, stream, contact(n))
        # one guarded INSERT (the helper reads the version on an acquired connection)
        assert counting.statements == ["WITH live AS"], counting.statements
    counting.statements.clear()
    await append(store, stream, contact(6), contact(7))  # several events: one statement too
    assert counting.statements == ["WITH live AS"], counting.statements
    events = await store.read_stream(stream)
    assert [e.event_type for e in events][-6:] == ["ContactLogged"] * 6
    last = store.decode(events[-1])
    assert isinstance(last, ContactLogged) and last.notes == SECRET_NOTE
    assert not any(SECRET_NOTE in row for row in await raw_data(pool))


async def test_without_the_cache_every_append_looks_its_key_up(pool: asyncpg.Pool) -> None:
    store, counting = counting_store(pool, key_cache_seconds=0)
    stream = await open_case(store)
    counting.statements.clear()
    await append(store, stream, contact(2))
    # the key lookup, the guarded INSERT
    assert counting.statements == ["SELECT k.client_ref, k.key_id,", "WITH live AS"]


async def test_the_cache_is_bounded(pool: asyncpg.Pool) -> None:
    store = EventStore(pool, cipher=FieldCipher(RING, key_cache_size=2))
    for n in range(4):
        await open_case(store, client_ref=f"client-{n}")
    assert isinstance(store.cipher, FieldCipher)
    assert len(store.cipher._live) == 2


async def test_a_key_destroyed_by_another_process_never_seals_a_later_event(
    pool: asyncpg.Pool, database_url: str
) -> None:
    worker, counting = counting_store(pool, key_cache_seconds=3600)
    stream = await open_case(worker)  # the worker now holds the client's key
    key_id = (await ClientKeys(RING).for_stream(pool, stream)).key_id  # type: ignore[union-attr]
    api_pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        assert await ClientKeys(RING).destroy(api_pool, "client-rqa", "erasure request")
    finally:
        await api_pool.close()
    # `forget` has returned: the worker's next append, sealed with its cached key, finds
    # the key destroyed in its own INSERT, writes nothing, and seals again (erased).
    counting.statements.clear()
    await append(worker, stream, contact(7, notes="Zanzibar orchard, after the erasure"))
    assert counting.statements == [
        "WITH live AS",
        "SELECT k.client_ref, k.key_id,",
        "INSERT INTO events",
    ]
    rows = await pool.fetch(
        "SELECT data::text AS data FROM events WHERE stream_id = $1 ORDER BY stream_version",
        stream,
    )
    last_raw = rows[-1]["data"]
    assert "Zanzibar orchard" not in last_raw
    assert sealed_fields(json.loads(last_raw)) == []
    assert all(key_id not in row["data"] for row in rows[-1:])
    last = worker.decode((await worker.read_stream(stream))[-1])
    assert isinstance(last, ContactLogged) and last.notes == ERASED_TEXT
    assert isinstance(worker.cipher, FieldCipher) and not worker.cipher._live
    assert len(rows) == 5  # the open's three events, contact 1, and this one: once
