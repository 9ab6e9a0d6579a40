"""The SQL of the event store (events/store.py): the columns it reads, the INSERT
statements of an append (one statement per append; linking a new stream to its client,
or guarded by a live data key, in that same statement), and the mapping of a row to a
`RecordedEvent`.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from events.envelope import EventMetadata, RecordedEvent

COLUMNS = """global_position, transaction_id::text::bigint AS transaction_id, stream_id,
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
INSERT_ONE = """INSERT INTO events (stream_id, stream_version, event_id, event_type,
    schema_version, data, metadata, occurred_at, origin_key, origin_mac)
    VALUES ($1, $2 + 1, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)
    RETURNING global_position"""

# Several events: one INSERT over unnested arrays, in version order. The chain
# trigger is a BEFORE ROW trigger, and the queries of a (volatile) trigger function
# see the rows its own statement inserted before the current one, so each event is
# chained to the one before it. Were rows ever inserted out of order, the trigger
# would find no event to follow and the append would fail whole, never chain wrongly.
INSERT_MANY = """INSERT INTO events (stream_id, stream_version, event_id, event_type,
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
LINK_CLIENT = """WITH link AS (INSERT INTO stream_clients (stream_id, client_ref)
    VALUES ($1, $11) ON CONFLICT (stream_id) DO NOTHING) """
INSERT_ONE_LINKED = LINK_CLIENT + INSERT_ONE
INSERT_MANY_LINKED = LINK_CLIENT + INSERT_MANY

# Events sealed with a (possibly cached) data key: the same one statement, writing only
# if $11, the key, is still live when the statement starts. Destroying a key (`forget`)
# commits before it returns, so a statement started after it sees the key destroyed
# and inserts nothing (then `append` seals again, from the database).
LIVE_KEY = """WITH live AS (SELECT FROM client_keys
    WHERE key_id = $11 AND wrapped_key IS NOT NULL) """
INSERT_ONE_GUARDED = (
    LIVE_KEY
    + """INSERT INTO events (stream_id, stream_version, event_id, event_type,
    schema_version, data, metadata, occurred_at, origin_key, origin_mac)
    SELECT $1, $2 + 1, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10
     WHERE EXISTS (SELECT FROM live)
    RETURNING global_position"""
)
INSERT_MANY_GUARDED = LIVE_KEY + INSERT_MANY.replace(
    "\n     ORDER BY new.i", "\n     WHERE EXISTS (SELECT FROM live)\n     ORDER BY new.i"
)
assert "EXISTS" in INSERT_MANY_GUARDED


def by_version(row: asyncpg.Record) -> int:
    return int(row["stream_version"])


def to_json(value: Any) -> str:
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
