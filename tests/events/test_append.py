"""The append contract: atomic, optimistic concurrency, idempotent retries, validation."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from events.envelope import NewEvent
from events.registry import EventValidationError, UnknownEventType
from events.store import ConcurrencyError, EventStore, IdempotencyError
from tests.events.factories import METADATA, contact_event


async def count_events(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM events"))


async def test_append_assigns_contiguous_versions(store: EventStore) -> None:
    first = await store.append("case-a", 0, [contact_event(1), contact_event(2)])
    second = await store.append("case-a", 2, [contact_event(3)])
    assert (first.first_version, first.last_version) == (1, 2)
    assert (second.first_version, second.last_version) == (3, 3)
    events = await store.read_stream("case-a")
    assert [e.stream_version for e in events] == [1, 2, 3]
    assert [e.data["contact_id"] for e in events] == ["contact-1", "contact-2", "contact-3"]
    assert events[1].previous_hash == events[0].hash
    assert events[0].metadata == METADATA
    assert await store.read_stream("case-a", from_version=3) == events[2:]


async def test_wrong_expected_version_is_a_conflict_and_writes_nothing(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await store.append("case-a", 0, [contact_event(1)])
    with pytest.raises(ConcurrencyError) as err:
        await store.append("case-a", 0, [contact_event(2)])
    assert err.value.actual == 1 and err.value.expected == 0
    assert "version 1, not the expected 0" in str(err.value)
    with pytest.raises(ConcurrencyError):
        await store.append("case-a", 5, [contact_event(3)])
    assert await count_events(pool) == 1


async def test_concurrent_appends_at_the_same_version_one_wins(store: EventStore) -> None:
    results = await asyncio.gather(
        *(store.append("case-race", 0, [contact_event(i)]) for i in range(6)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(wins) == 1 and len(conflicts) == 5
    assert await store.stream_version("case-race") == 1


async def test_retry_with_same_ids_is_idempotent(store: EventStore, pool: asyncpg.Pool) -> None:
    batch = [contact_event(1), contact_event(2)]
    first = await store.append("case-a", 0, batch)
    retry = await store.append("case-a", 0, batch)
    assert retry.duplicate and not first.duplicate
    assert retry.global_positions == first.global_positions
    assert (retry.first_version, retry.last_version) == (1, 2)
    assert await count_events(pool) == 2


async def test_concurrent_retries_write_once(store: EventStore, pool: asyncpg.Pool) -> None:
    batch = [contact_event(1), contact_event(2)]
    results = await asyncio.gather(*(store.append("case-a", 0, batch) for _ in range(5)))
    assert len({r.global_positions for r in results}) == 1
    assert await count_events(pool) == 2


async def test_same_ids_with_other_content_are_refused(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    event_id = uuid.uuid4()
    await store.append("case-a", 0, [contact_event(1, event_id=event_id)])
    with pytest.raises(IdempotencyError, match="other content"):
        await store.append("case-a", 0, [contact_event(1, event_id=event_id, notes="changed")])
    with pytest.raises(IdempotencyError, match="another position"):
        await store.append("case-b", 0, [contact_event(1, event_id=event_id)])
    with pytest.raises(IdempotencyError, match="1 of 2"):
        await store.append("case-a", 0, [contact_event(1, event_id=event_id), contact_event(2)])
    assert await count_events(pool) == 1


async def test_invalid_data_names_the_field_and_writes_nothing(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    good = contact_event(1)
    bad = NewEvent(
        **{
            **contact_event(2).model_dump(),
            "data": {**contact_event(2).data, "duration_minutes": "an hour", "kind": "telepathy"},
        }
    )
    with pytest.raises(EventValidationError) as err:
        await store.append("case-a", 0, [good, bad])
    message = str(err.value)
    assert "duration_minutes" in message and "kind" in message
    assert await count_events(pool) == 0


async def test_unknown_event_type_is_refused(store: EventStore, pool: asyncpg.Pool) -> None:
    event = NewEvent(**{**contact_event(1).model_dump(), "event_type": "Teleported"})
    with pytest.raises(UnknownEventType, match="Teleported"):
        await store.append("case-a", 0, [event])
    assert await count_events(pool) == 0


async def test_append_is_atomic_when_the_database_refuses_a_row(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    too_long_stream = "s" * 201  # refused by the table's CHECK constraint
    with pytest.raises(asyncpg.CheckViolationError):
        await store.append(too_long_stream, 0, [contact_event(1), contact_event(2)])
    assert await count_events(pool) == 0
