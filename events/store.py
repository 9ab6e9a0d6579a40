"""The event store: one API over the append-only PostgreSQL log.

Guarantees
----------
* `append(stream_id, expected_version, events)` is atomic: all events are written
  at versions `expected_version + 1 …` or none is.
* A stream whose current version is not `expected_version` raises
  `ConcurrencyError`, and nothing is written.
* Re-appending the very same event ids at the same versions with the same content
  (an activity retried after its acknowledgement was lost) returns the original
  result, with the events' original `occurred_at`, and writes nothing. Content is
  type, schema version, data and metadata; `occurred_at` may differ on a retry (a
  workflow task retried after a crash reads a later `workflow.now()`), and the
  stored time wins. The same ids with other content, or at other versions,
  raise `IdempotencyError`.
* Event data is validated against the registry before anything is written; bad
  data raises `EventValidationError` naming the field.
* `read_all(after)` returns events in an order that never skips one: an event
  becomes visible to readers only once every transaction that could commit before
  it has finished (a transaction-id watermark, `pg_snapshot_xmin`). The cursor is
  the pair (transaction id, global position); see `GlobalCursor`.
* The database refuses UPDATE, DELETE and TRUNCATE on the log, chains each
  stream's events with SHA-256, and NOTIFYs channel `casework_events` on append.
* With an `origin` keyring (events/origin.py), every event is stored with an HMAC of
  its canonical bytes made with the engine's origin key, which the database never
  sees; `verify_origins` names any event without a valid one.
* With a `cipher` (events/crypto.py `FieldCipher`), personal fields are encrypted
  with the client's data key after validation and before the INSERT, so the log and
  its hash chain hold only ciphertext; every read (`read_stream`, `read_all`,
  `follow`) returns them decrypted, or at their erased values once the client was
  forgotten (their data key destroyed). A stream's CaseOpened links the stream to
  its client in the same INSERT statement. Without a cipher, data is stored as given.

This module holds `EventStore`; the types of its API (errors, results, the cursor, the
`Cipher` protocol) are in events/store_types.py, its SQL and row mapping in
events/store_sql.py, all re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from events.catalog import default_registry
from events.envelope import EventMetadata, NewEvent, RecordedEvent
from events.origin import OriginKeyring, origin_body, record_cutover
from events.registry import DomainEvent, EventRegistry
from events.store_sql import (
    COLUMNS,
    INSERT_MANY,
    INSERT_MANY_GUARDED,
    INSERT_MANY_LINKED,
    INSERT_ONE,
    INSERT_ONE_GUARDED,
    INSERT_ONE_LINKED,
    by_version,
    record_from_row,
    to_json,
)
from events.store_types import (
    NOTIFY_CHANNEL,
    START,
    AppendResult,
    Cipher,
    ConcurrencyError,
    GlobalCursor,
    IdempotencyError,
    SealedAppend,
)

SEAL_ATTEMPTS = 3
"""Seals an append tries when its key turns out destroyed in between (the last one
reads the key from the database, so it sees the destruction)."""


class EventStore:
    """Append to and read from the event log through an asyncpg pool."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: EventRegistry | None = None,
        cipher: Cipher | None = None,
        origin: OriginKeyring | None = None,
    ) -> None:
        self.pool = pool
        self.registry = registry or default_registry()
        self.cipher = cipher
        self.origin = origin
        """The engine's origin key (events/origin.py): every appended event carries an
        HMAC made with it. None (tests, tools): events are stored without a proof."""
        self._cutover_checked = origin is None

    def _proofs(
        self, stream_id: str, expected_version: int, stored: Sequence[NewEvent]
    ) -> tuple[list[str | None], list[bytes | None]]:
        """The origin key id and MAC of each event as it will be stored."""
        if self.origin is None:
            return [None] * len(stored), [None] * len(stored)
        keys: list[str | None] = []
        macs: list[bytes | None] = []
        metadata: dict[int, dict[str, Any]] = {}
        for i, event in enumerate(stored, start=1):
            if id(event.metadata) not in metadata:
                metadata[id(event.metadata)] = event.metadata.model_dump(mode="json")
            key_id, mac = self.origin.sign(
                origin_body(
                    stream_id,
                    expected_version + i,
                    event.event_id,
                    event.event_type,
                    event.schema_version,
                    event.occurred_at,
                    event.data,
                    metadata[id(event.metadata)],
                )
            )
            keys.append(key_id)
            macs.append(mac)
        return keys, macs

    # --- writing ----------------------------------------------------------------------

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < 0:
            raise ValueError("expected_version: must be 0 (new stream) or more")
        for event in events:
            self.registry.validate_new(event.event_type, event.schema_version, event.data)
        if len({e.event_id for e in events}) != len(events):
            raise ValueError("append: the events' ids must be distinct")
        if not self._cutover_checked and self.origin is not None:
            await record_cutover(self.pool, self.origin)
            self._cutover_checked = True
        try:
            for _ in range(SEAL_ATTEMPTS):
                positions = await self._insert(stream_id, expected_version, events)
                if positions is not None:
                    break
            else:
                raise RuntimeError(
                    f"{stream_id}: its client's data key was destroyed during each of "
                    f"{SEAL_ATTEMPTS} attempts to append; nothing was written"
                )
        except asyncpg.UniqueViolationError:
            # These versions (or these ids) are taken: by a concurrent writer, or by
            # an earlier attempt of this very append.
            return await self._retry_or_conflict(stream_id, expected_version, events)
        except asyncpg.SerializationError:
            # The chain trigger found no event to follow: the stream is behind the
            # expected version (or a concurrent writer has not committed it yet).
            actual = await self.stream_version(stream_id)
            raise ConcurrencyError(stream_id, expected_version, actual) from None
        return AppendResult(
            stream_id=stream_id,
            first_version=expected_version + 1,
            last_version=expected_version + len(events),
            global_positions=tuple(positions),
            occurred_at=tuple(e.occurred_at for e in events),
        )

    async def _insert(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[int] | None:
        """Seal and INSERT in one statement: the events' global positions, or None when
        the data key they were sealed with was found destroyed (nothing written; the
        cached key is dropped, so the next seal reads the key from the database)."""
        stored: Sequence[NewEvent] = events
        link: tuple[str, ...] = ()
        live_key: str | None = None
        if self.cipher is not None:
            sealed = await self.cipher.seal(self.pool, self.registry, stream_id, events)
            stored = sealed.events
            if sealed.link_client is not None:
                link = (sealed.link_client,)
            elif sealed.live_key is not None:
                live_key = sealed.live_key
        guard = (live_key,) if live_key is not None else ()
        origin_keys, origin_macs = self._proofs(stream_id, expected_version, stored)
        if len(stored) == 1:
            (event,) = stored
            position = await self.pool.fetchval(
                INSERT_ONE_LINKED if link else INSERT_ONE_GUARDED if guard else INSERT_ONE,
                stream_id,
                expected_version,
                event.event_id,
                event.event_type,
                event.schema_version,
                to_json(event.data),
                event.metadata.model_dump_json(),
                event.occurred_at,
                origin_keys[0],
                origin_macs[0],
                *link,
                *guard,
            )
            positions = [] if position is None else [int(position)]
        else:
            # Events of one append usually share one metadata object: dump it once.
            metadata_json: dict[int, str] = {}
            for event in stored:
                if id(event.metadata) not in metadata_json:
                    metadata_json[id(event.metadata)] = event.metadata.model_dump_json()
            rows = await self.pool.fetch(
                INSERT_MANY_LINKED if link else INSERT_MANY_GUARDED if guard else INSERT_MANY,
                stream_id,
                expected_version,
                [e.event_id for e in stored],
                [e.event_type for e in stored],
                [e.schema_version for e in stored],
                [to_json(e.data) for e in stored],
                [metadata_json[id(e.metadata)] for e in stored],
                [e.occurred_at for e in stored],
                origin_keys,
                origin_macs,
                *link,
                *guard,
            )
            positions = [r["global_position"] for r in sorted(rows, key=by_version)]
        if len(positions) == len(stored):
            return positions
        if live_key is None or positions or self.cipher is None:
            raise RuntimeError(f"{stream_id}: {len(positions)} of {len(stored)} events written")
        self.cipher.drop_cached_key(live_key)
        return None

    async def _retry_or_conflict(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        """Nothing was written: the earlier result of a retry, else a conflict."""
        async with self.pool.acquire() as conn:
            previous = await self._find_existing(conn, stream_id, expected_version, events)
            if previous is not None:
                return previous
            actual = await self._current_version(conn, stream_id)
        raise ConcurrencyError(stream_id, expected_version, actual)

    async def append_domain(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[tuple[Any, DomainEvent]],
        metadata: EventMetadata,
        occurred_at: Any,
    ) -> AppendResult:
        """Append vocabulary events given as (event_id, event) pairs."""
        return await self.append(
            stream_id,
            expected_version,
            [
                NewEvent(
                    event_id=event_id,
                    event_type=event.type,
                    schema_version=event.schema_version,
                    data=event.to_data(),
                    metadata=metadata,
                    occurred_at=occurred_at,
                )
                for event_id, event in events
            ],
        )

    async def _current_version(self, conn: asyncpg.Connection, stream_id: str) -> int:
        version = await conn.fetchval(
            "SELECT max(stream_version) FROM events WHERE stream_id = $1", stream_id
        )
        return int(version or 0)

    async def _find_existing(
        self,
        conn: asyncpg.Connection,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
    ) -> AppendResult | None:
        """The result of an earlier append of these very events, if there was one."""
        found = await conn.fetch(
            f"SELECT {COLUMNS} FROM events WHERE event_id = ANY($1::uuid[])",
            [e.event_id for e in events],
        )
        if not found:
            return None
        by_id = {record.event_id: record for record in await self._open(found)}
        if len(by_id) != len(events):
            raise IdempotencyError(
                f"{len(by_id)} of {len(events)} event ids are already in the log; "
                "a retry must re-append exactly the same events"
            )
        positions = []
        for i, event in enumerate(events, start=1):
            stored = by_id[event.event_id]
            same_place = (
                stored.stream_id == stream_id and stored.stream_version == expected_version + i
            )
            same_content = (
                stored.event_type == event.event_type
                and stored.schema_version == event.schema_version
                and self._same_data(stored, event)
                and stored.metadata == event.metadata
            )
            if not (same_place and same_content):
                raise IdempotencyError(
                    f"event {event.event_id} is already in the log "
                    f"({stored.stream_id} v{stored.stream_version}) with other content "
                    "or at another position"
                )
            positions.append(stored.global_position)
        return AppendResult(
            stream_id=stream_id,
            first_version=expected_version + 1,
            last_version=expected_version + len(events),
            global_positions=tuple(positions),
            occurred_at=tuple(by_id[e.event_id].occurred_at for e in events),
            duplicate=True,
        )

    def _same_data(self, stored: RecordedEvent, event: NewEvent) -> bool:
        """Whether the stored (decrypted) data is the data of `event`.

        A forgotten client's stored fields read as erased: the same event then
        matches once its own personal fields are erased too.
        """
        data = json.loads(to_json(event.data))
        if stored.data == data:
            return True
        if self.cipher is None:
            return False
        return bool(stored.data == self.cipher.erase(self.registry, event.event_type, data))

    async def _open(self, rows: Sequence[asyncpg.Record]) -> list[RecordedEvent]:
        """Records of the rows, personal fields decrypted when the store has a cipher."""
        records = [record_from_row(r) for r in rows]
        if self.cipher is None:
            return records
        return await self.cipher.open(self.pool, self.registry, records)

    # --- reading ----------------------------------------------------------------------

    async def stream_version(self, stream_id: str) -> int:
        async with self.pool.acquire() as conn:
            return await self._current_version(conn, stream_id)

    async def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each stream, in one query (0 for a stream with no
        events)."""
        wanted = sorted(set(stream_ids))
        if not wanted:
            return {}
        rows = await self.pool.fetch(
            """SELECT s.stream_id,
                      (SELECT max(e.stream_version) FROM events e
                        WHERE e.stream_id = s.stream_id) AS version
                 FROM unnest($1::text[]) AS s(stream_id)""",
            wanted,
        )
        return {r["stream_id"]: int(r["version"] or 0) for r in rows}

    async def read_stream(
        self, stream_id: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of one stream with version >= from_version, in version order."""
        rows = await self.pool.fetch(
            f"""SELECT {COLUMNS} FROM events
                WHERE stream_id = $1 AND stream_version >= $2
                ORDER BY stream_version LIMIT $3""",
            stream_id,
            from_version,
            limit,
        )
        return await self._open(rows)

    async def read_all(
        self,
        after: GlobalCursor = START,
        limit: int = 1000,
        types: Sequence[str] | None = None,
    ) -> list[RecordedEvent]:
        """The next batch of the global order after `after`, never skipping an event
        (of `types` only, when given).

        Only events of transactions older than every transaction still in progress
        are returned, so no event can later appear before the returned ones.
        """
        rows = await self.pool.fetch(
            f"""SELECT {COLUMNS} FROM events
                WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
                  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                  AND ($4::text[] IS NULL OR event_type = ANY($4::text[]))
                ORDER BY transaction_id, global_position
                LIMIT $3""",
            str(after.transaction_id),
            after.global_position,
            limit,
            None if types is None else list(types),
        )
        return await self._open(rows)

    async def follow(
        self, after: GlobalCursor = START, batch_size: int = 1000
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Yield batches of the global order until the reader has caught up."""
        cursor = after
        while True:
            batch = await self.read_all(cursor, batch_size)
            if not batch:
                return
            yield batch
            cursor = GlobalCursor.of(batch[-1])

    def decode(self, event: RecordedEvent) -> DomainEvent:
        """The vocabulary model of a stored event, upcast to its current version."""
        return self.registry.decode(event.event_type, event.schema_version, event.data)


__all__ = [
    "NOTIFY_CHANNEL",
    "SEAL_ATTEMPTS",
    "START",
    "AppendResult",
    "Cipher",
    "ConcurrencyError",
    "EventStore",
    "GlobalCursor",
    "IdempotencyError",
    "SealedAppend",
    "record_from_row",
]
