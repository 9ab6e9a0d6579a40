"""Tamper evidence: recompute every stream's hash chain, independently of the database.

Each event's hash is SHA-256 over the previous event's hash followed by the event's
canonical bytes: stream id, version, event id, type, schema version, occurred-at in
microseconds since the epoch, and the `data` and `metadata` columns exactly as
PostgreSQL renders the stored jsonb, joined by newlines. The trigger in
events/migrations/0001_event_log.sql computes it on insert; this module recomputes
it in Python, so a row altered behind the engine's back (say by a superuser who
disabled the trigger) is found even if the SQL function was altered too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_hash(
    previous: bytes | None,
    stream_id: str,
    stream_version: int,
    event_id: UUID,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    data_text: str,
    metadata_text: str,
) -> bytes:
    micros = (occurred_at - _EPOCH) // timedelta(microseconds=1)
    body = "\n".join(
        [
            stream_id,
            str(stream_version),
            str(event_id),
            event_type,
            str(schema_version),
            str(micros),
            data_text,
            metadata_text,
        ]
    ).encode("utf-8")
    return hashlib.sha256((previous or b"") + body).digest()


@dataclass(frozen=True)
class ChainFinding:
    """One broken link: which event, and what is wrong with it."""

    stream_id: str
    stream_version: int
    event_id: UUID | None
    global_position: int | None
    problem: str

    def __str__(self) -> str:
        return (
            f"{self.stream_id} v{self.stream_version} (event {self.event_id}, "
            f"position {self.global_position}): {self.problem}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "event_id": str(self.event_id) if self.event_id else None,
            "global_position": self.global_position,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class VerifyReport:
    streams: int
    events: int
    findings: list[ChainFinding]

    @property
    def ok(self) -> bool:
        return not self.findings


_CHAIN_COLUMNS = """stream_id, stream_version, event_id, event_type, schema_version,
                      occurred_at, data::text AS data, metadata::text AS metadata,
                      previous_hash, hash, global_position"""


async def verify_chains(
    conn: asyncpg.Connection, batch: int = 5000, *, stream_id: str | None = None
) -> VerifyReport:
    """Walk every stream (or only `stream_id`) in version order; report the first broken
    link of each stream."""
    findings: list[ChainFinding] = []
    streams = events = 0
    current: str | None = None
    expected_version = 0
    previous: bytes | None = None
    broken = False
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if stream_id is None:
            cursor = conn.cursor(
                f"SELECT {_CHAIN_COLUMNS} FROM events ORDER BY stream_id, stream_version",
                prefetch=batch,
            )
        else:
            cursor = conn.cursor(
                f"""SELECT {_CHAIN_COLUMNS} FROM events WHERE stream_id = $1
                     ORDER BY stream_version""",
                stream_id,
                prefetch=batch,
            )
        async for row in cursor:
            events += 1
            if row["stream_id"] != current:
                current = row["stream_id"]
                streams += 1
                expected_version = 0
                previous = None
                broken = False
            if broken:
                continue
            expected_version += 1

            def finding(problem: str, row: asyncpg.Record = row) -> ChainFinding:
                return ChainFinding(
                    row["stream_id"],
                    row["stream_version"],
                    row["event_id"],
                    row["global_position"],
                    problem,
                )

            if row["stream_version"] != expected_version:
                findings.append(finding(f"version gap: expected v{expected_version}"))
                broken = True
                continue
            if row["previous_hash"] != previous:
                findings.append(finding("previous_hash does not match the preceding event"))
                broken = True
                continue
            recomputed = event_hash(
                previous,
                row["stream_id"],
                row["stream_version"],
                row["event_id"],
                row["event_type"],
                row["schema_version"],
                row["occurred_at"],
                row["data"],
                row["metadata"],
            )
            if recomputed != row["hash"]:
                findings.append(finding("hash does not match the event's contents (altered)"))
                broken = True
                continue
            previous = row["hash"]
    return VerifyReport(streams=streams, events=events, findings=findings)
