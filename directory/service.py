"""The directories over the event store: load (fold, cached by stream version) and change.

Reads fold the stream; each `EventStore` keeps the last folded directory and reads
only the events after its version. Writes decide against the directory just read
and append at its version; when another writer got there first (`ConcurrencyError`)
the command is decided again on the newer directory, a few times at most. Every
event's metadata names the acting staff member.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
import structlog

from cases.actors import Actor
from directory.errors import DirectoryError
from directory.resources import ResourceDirectory
from directory.staff import StaffDirectory
from events.directory_events import PROVIDER_STREAM, STAFF_STREAM
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import ConcurrencyError, EventStore

log = structlog.get_logger("casework.directory")

MAX_ATTEMPTS = 5
"""How often a change is decided again after losing a race for the stream."""


D = TypeVar("D", StaffDirectory, ResourceDirectory)


@dataclass
class _Cached:
    staff: StaffDirectory
    resources: ResourceDirectory


_cache: weakref.WeakKeyDictionary[EventStore, _Cached] = weakref.WeakKeyDictionary()


def _cached(store: EventStore) -> _Cached:
    entry = _cache.get(store)
    if entry is None:
        entry = _cache[store] = _Cached(StaffDirectory(), ResourceDirectory())
    return entry


async def _newer_events(store: EventStore, stream_id: str, version: int) -> list[DomainEvent]:
    return [store.decode(e) for e in await store.read_stream(stream_id, from_version=version + 1)]


async def load_staff_directory(store: EventStore) -> StaffDirectory:
    """The staff directory as of now (reads only events newer than the cached fold)."""
    entry = _cached(store)
    known = entry.staff
    directory = known.fold(await _newer_events(store, STAFF_STREAM, known.version))
    if directory.version > entry.staff.version:
        entry.staff = directory
    return directory


async def load_resource_directory(store: EventStore) -> ResourceDirectory:
    """The resource directory as of now (reads only events newer than the cached fold)."""
    entry = _cached(store)
    known = entry.resources
    directory = known.fold(await _newer_events(store, PROVIDER_STREAM, known.version))
    if directory.version > entry.resources.version:
        entry.resources = directory
    return directory


def remember_resources(store: EventStore, directory: ResourceDirectory) -> None:
    """Keep `directory` as the store's cached fold, if it is newer: a writer that folded
    what it appended itself (a directory import of thousands of events) spares the next
    reader reading and decoding them all again."""
    entry = _cached(store)
    if directory.version > entry.resources.version:
        entry.resources = directory


async def resolve_actor(store_or_pool: EventStore | asyncpg.Pool, staff_id: str) -> Actor:
    """The Actor for `--as STAFF_ID`; NotFound (a LookupError) if unknown or deactivated."""
    store = store_or_pool if isinstance(store_or_pool, EventStore) else EventStore(store_or_pool)
    return (await load_staff_directory(store)).actor(staff_id)


# --- writing -------------------------------------------------------------------------


async def change_directory(
    store: EventStore,
    stream_id: str,
    load: Callable[[EventStore], Awaitable[D]],
    decide: Callable[[D], DomainEvent],
    actor: Actor,
    correlation_id: str | None = None,
) -> D:
    """Decide on the current directory, append at its version, return the new directory.

    Raises what `decide` raises (the command is refused and nothing is written), or
    DirectoryError if the stream kept moving for MAX_ATTEMPTS tries.
    """
    metadata = EventMetadata(
        actor_id=actor.staff_id, actor_role=actor.role.value, correlation_id=correlation_id
    )
    for attempt in range(1, MAX_ATTEMPTS + 1):
        directory = await load(store)
        event = decide(directory)
        try:
            result = await store.append_domain(
                stream_id,
                directory.version,
                [(uuid.uuid4(), event)],
                metadata=metadata,
                occurred_at=datetime.now(UTC),
            )
        except ConcurrencyError:
            log.info("directory.conflict", stream=stream_id, attempt=attempt)
            continue
        log.info(
            "directory.changed",
            stream=stream_id,
            version=result.last_version,
            event_type=event.type,
            actor_id=actor.staff_id,
        )
        return directory.fold([event])
    raise DirectoryError(f"{stream_id} kept changing; try again")
