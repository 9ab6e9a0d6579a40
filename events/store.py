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
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from events.catalog import default_registry
from events.envelope import EventMetadata, NewEvent, RecordedEvent
from events.origin import OriginKeyring, origin_body, record_cutover
from events.registry import DomainEvent, EventRegistry

NOTIFY_CHANNEL = "casework_events"


class ConcurrencyError(RuntimeError):
    """The stream moved on since the caller read it."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not the expected {expected}"
        )


class IdempotencyError(RuntimeError):
    """Event ids already in the log with other content or at other positions."""


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    first_version: int
    last_version: int
    global_positions: tuple[int, ...]
    occurred_at: tuple[datetime, ...]
    """As stored: on an idempotent retry, the times of the first append."""
    duplicate: bool = False
    """True when the events were already in the log (an idempotent retry)."""


@dataclass(frozen=True, order=True)
class GlobalCursor:
    """Where a reader of the global order stands: after this (transaction, position)."""

    transaction_id: int = 0
    global_position: int = 0

    @classmethod
    def of(cls, event: RecordedEvent) -> GlobalCursor:
        return cls(event.transaction_id, event.global_position)


START = GlobalCursor()

_COLUMNS = """global_position, transaction_id::text::bigint AS transaction_id, stream_id,
    stream_version, event_id, event_type, schema_version, data::text AS data,
    metadata::text AS metadata, occurred_at, recorded_at, previous_hash, hash"""

# An append is one INSERT statement: one round trip, one implicit transaction, no
# lock taken beforehand. The table's constraints are the checks: an expected version
# below the stream's head collides with UNIQUE (stream_id, stream_version); one above
# it finds no event to chain to (the chain trigger raises serialization_failure);
# an event id already in the log collides with UNIQUE (event_id). Only then, with
# nothing written, does `append` look at what is there (a retry or a conflict).
# With a cipher, the client's data key is looked up (or made, for a CaseOpened)
# before the INSERT; the INSERT stays one statement.
_INSERT_ONE = """INSERT INTO events (stream_id, stream_version, event_id, event_type,
    schema_version, data, metadata, occurred_at, origin_key, origin_mac)
    VALUES ($1, $2 + 1, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)
    RETURNING global_position"""

# Several events: one INSERT over unnested arrays, in version order. The chain
# trigger is a BEFORE ROW trigger, and the queries of a (volatile) trigger function
# see the rows its own statement inserted before the current one, so each event is
# chained to the one before it. Were rows ever inserted out of order, the trigger
# would find no event to follow and the append would fail whole, never chain wrongly.
_INSERT_MANY = """INSERT INTO events (stream_id, stream_version, event_id, event_type,
    schema_version, data, metadata, occurred_at, origin_key, origin_mac)
    SELECT $1, $2 + new.i, new.event_id, new.event_type, new.schema_version,
           new.data::jsonb, new.metadata::jsonb, new.occurred_at, new.origin_key,
           new.origin_mac
      FROM unnest($3::uuid[], $4::text[], $5::integer[], $6::text[], $7::text[],
                  $8::timestamptz[], $9::text[], $10::bytea[])
           WITH ORDINALITY AS new(event_id, event_type, schema_version, data, metadata,
                                  occurred_at, origin_key, origin_mac, i)
     ORDER BY new.i
    RETURNING global_position, stream_version"""


# A stream's CaseOpened (with a cipher) links the stream to its client in the same
# statement as the events: $11 is the client_ref, $1 the stream. ($9 and $10 are the
# events' origin proofs: events/origin.py, NULL from a store without an origin key.)
_LINK_CLIENT = """WITH link AS (INSERT INTO stream_clients (stream_id, client_ref)
    VALUES ($1, $11) ON CONFLICT (stream_id) DO NOTHING) """
_INSERT_ONE_LINKED = _LINK_CLIENT + _INSERT_ONE
_INSERT_MANY_LINKED = _LINK_CLIENT + _INSERT_MANY

# Events sealed with a (possibly cached) data key: the same one statement, writing only
# if $11, the key, is still live when the statement starts. Destroying a key (`forget`)
# commits before it returns, so a statement started after it sees the key destroyed
# and inserts nothing (then `append` seals again, from the database).
_LIVE_KEY = """WITH live AS (SELECT FROM client_keys
    WHERE key_id = $11 AND wrapped_key IS NOT NULL) """
_INSERT_ONE_GUARDED = (
    _LIVE_KEY
    + """INSERT INTO events (stream_id, stream_version, event_id, event_type,
    schema_version, data, metadata, occurred_at, origin_key, origin_mac)
    SELECT $1, $2 + 1, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10
     WHERE EXISTS (SELECT FROM live)
    RETURNING global_position"""
)
_INSERT_MANY_GUARDED = _LIVE_KEY + _INSERT_MANY.replace(
    "\n     ORDER BY new.i", "\n     WHERE EXISTS (SELECT FROM live)\n     ORDER BY new.i"
)
assert "EXISTS" in _INSERT_MANY_GUARDED

SEAL_ATTEMPTS = 3
"""Seals an append tries when its key turns out destroyed in between (the last one
reads the key from the database, so it sees the destruction)."""


def _by_version(row: asyncpg.Record) -> int:
    return int(row["stream_version"])


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def record_from_row(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        global_position=row["global_position"],
        transaction_id=row["transaction_id"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        data=json.loads(row["data"]),
        metadata=EventMetadata.model_validate_json(row["metadata"]),
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        previous_hash=row["previous_hash"],
        hash=row["hash"],
    )


@dataclass(frozen=True)
class SealedAppend:
    """The events as they will be stored, and the client to link a new stream to."""

    events: list[NewEvent]
    link_client: str | None
    """The client_ref of the batch's CaseOpened, if it holds one."""
    live_key: str | None = None
    """The data key id the events' fields were sealed with (None: no key, or a CaseOpened
    that made or found it): the INSERT writes only if that key is still live, checked
    in the same statement, so a cached key can never seal an event written after the
    key was destroyed."""


class Cipher(Protocol):
    """A step of mapping events to rows and back (the shape of eventsourcing's Mapper
    with a Cipher): `seal` runs in `append` after validation and before the INSERT,
    `open` on every read, `erase` tells what a forgotten client's event reads as.
    `events.crypto.FieldCipher` is the one Casework uses."""

    async def seal(
        self, db: Any, registry: EventRegistry, stream_id: str, events: Sequence[NewEvent]
    ) -> SealedAppend: ...

    async def open(
        self, db: Any, registry: EventRegistry, records: Sequence[RecordedEvent]
    ) -> list[RecordedEvent]: ...

    def erase(self, registry: EventRegistry, event_type: str, data: Mapping[str, Any]) -> Any: ...

    def drop_cached_key(self, key_id: str) -> None:
        """An append sealed with `key_id` found it destroyed: seal from the database next."""


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
                _INSERT_ONE_LINKED if link else _INSERT_ONE_GUARDED if guard else _INSERT_ONE,
                stream_id,
                expected_version,
                event.event_id,
                event.event_type,
                event.schema_version,
                _to_json(event.data),
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
                _INSERT_MANY_LINKED if link else _INSERT_MANY_GUARDED if guard else _INSERT_MANY,
                stream_id,
                expected_version,
                [e.event_id for e in stored],
                [e.event_type for e in stored],
                [e.schema_version for e in stored],
                [_to_json(e.data) for e in stored],
                [metadata_json[id(e.metadata)] for e in stored],
                [e.occurred_at for e in stored],
                origin_keys,
                origin_macs,
                *link,
                *guard,
            )
            positions = [r["global_position"] for r in sorted(rows, key=_by_version)]
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
            f"SELECT {_COLUMNS} FROM events WHERE event_id = ANY($1::uuid[])",
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
        data = json.loads(_to_json(event.data))
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
            f"""SELECT {_COLUMNS} FROM events
                WHERE stream_id = $1 AND stream_version >= $2
                ORDER BY stream_version LIMIT $3""",
            stream_id,
            from_version,
            limit,
        )
        return await self._open(rows)

    async def read_all(self, after: GlobalCursor = START, limit: int = 1000) -> list[RecordedEvent]:
        """The next batch of the global order after `after`, never skipping an event.

        Only events of transactions older than every transaction still in progress
        are returned, so no event can later appear before the returned ones.
        """
        rows = await self.pool.fetch(
            f"""SELECT {_COLUMNS} FROM events
                WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
                  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY transaction_id, global_position
                LIMIT $3""",
            str(after.transaction_id),
            after.global_position,
            limit,
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
