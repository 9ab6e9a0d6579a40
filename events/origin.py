"""Origin proofs: every event the engine appends carries an HMAC-SHA256 made with a key
that is not in the database.

Why
---
The hash chain (events/chain.py) proves that the log was not altered *after* an event
was written; it says nothing about *who* wrote it. Anybody holding the `casework_engine`
database role may INSERT a well-formed event, and the chain trigger chains it like any
other. The origin proof closes that gap: the engine process computes a MAC over the
event's canonical bytes before the INSERT, with an *origin key* it reads from its own
settings (`CASEWORK_ORIGIN_KEYS`, or in development a key file under the data
directory), and stores it in the event's row (columns `origin_key`, `origin_mac`,
events/migrations/0007_origin_proofs.sql). `casework verify` recomputes every MAC and
names each event without a valid one.

What the MAC covers
-------------------
The same fields as the chain hash, in the same order, joined by newlines: stream id,
version, event id, type, schema version, occurred-at in microseconds since the epoch,
and the `data` and `metadata` as stored (personal fields as ciphertext), each written as
*canonical JSON* (`canonical_json`): keys sorted, no spaces, non-ASCII kept, integral
numbers written as integers. The engine cannot know how PostgreSQL will render the jsonb
it stores, so the MAC covers a form both sides compute from the JSON *value*: the engine
from what it sends, the verifier from what PostgreSQL returns. The recorded time and the
global position are not covered (the database assigns them).

The cutover
-----------
Events written before origin proofs existed have none. The first signing store records,
once, which events those are (`origin_cutover`: how many, the last position, SHA-256 over
their chain hashes in global order), MACed with the origin key, and only while no event
carries a proof yet. `verify_origins` then accepts an event without a proof only if the
set of such events is exactly the recorded one; anything else is named.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from events.chain import ChainFinding
from events.keyfile import create_private_file, open_mode, parse_key_spec

log = structlog.get_logger("casework.origin")

ORIGIN_KEYS_ENV = "CASEWORK_ORIGIN_KEYS"
DEV_ORIGIN_KEYS_FILE = Path("keys") / "origin.keys"
"""Where (under the data directory) a development origin key is kept when none is set."""

KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CUTOVER_LABEL = "casework-origin-cutover-v1"


class OriginKeyError(ValueError):
    """The origin keys setting is malformed (the message never holds key material)."""


# --- canonical bytes -----------------------------------------------------------------------


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            raise ValueError("canonical JSON: numbers must be finite")
        if number == number.to_integral_value():
            return int(number)
        return float(number)
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    raise TypeError(f"canonical JSON: {type(value).__name__} is not a JSON value")


def _plain(value: Any) -> bool:
    """Whether `value` holds no float anywhere (the common case: no normalising walk).

    On every append's path: one loop over a stack, the usual leaves (str, int, None)
    passed by their exact type first (8x faster than a recursive all())."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, float | Decimal):
            return False
    return True


def canonical_json(value: Any) -> str:
    """The JSON value in one fixed text form: sorted keys, no whitespace, UTF-8 kept,
    integral numbers as integers (PostgreSQL renders jsonb `1e+16` as `10000000000000000`
    and keeps `1.0`; both are the integer here)."""
    if not _plain(value):
        value = _normalise(value)
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def origin_body(
    stream_id: str,
    stream_version: int,
    event_id: UUID,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    data: Any,
    metadata: Any,
) -> bytes:
    """The bytes an origin MAC covers (`data`/`metadata` as JSON values, not text)."""
    micros = (occurred_at - _EPOCH) // timedelta(microseconds=1)
    return "\n".join(
        [
            "casework-origin-v1",
            stream_id,
            str(stream_version),
            str(event_id),
            event_type,
            str(schema_version),
            str(micros),
            canonical_json(data),
            canonical_json(metadata),
        ]
    ).encode("utf-8")


# --- the keyring ---------------------------------------------------------------------------


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise OriginKeyError(f"{ORIGIN_KEYS_ENV}: origin key {key_id!r} is not base64") from None
    if len(key) != KEY_BYTES:
        raise OriginKeyError(f"{ORIGIN_KEYS_ENV}: origin key {key_id!r} must be 32 bytes")
    return key


@dataclass(frozen=True)
class OriginKeyring:
    """The origin keys: `current_id` signs new events, every listed key verifies."""

    keys: Mapping[str, bytes] = field(repr=False)
    current_id: str

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise OriginKeyError(f"current origin key {self.current_id!r} is not in the keyring")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id):
                raise OriginKeyError(f"origin key id {key_id!r}: use letters, digits and . _ -")
            if len(key) != KEY_BYTES:
                raise OriginKeyError(f"origin key {key_id!r} must be {KEY_BYTES} bytes")

    @classmethod
    def parse(cls, spec: str) -> OriginKeyring:
        """`id:base64[,id2:base64…]` (commas or newlines, `#` comments); the first signs."""
        keys = parse_key_spec(
            spec,
            setting=ORIGIN_KEYS_ENV,
            noun="origin key",
            error=OriginKeyError,
            decode=_decode_key,
        )
        return cls(keys=keys, current_id=next(iter(keys)))

    @classmethod
    def generate(cls, key_id: str | None = None) -> OriginKeyring:
        key_id = key_id or f"ok-{secrets.token_hex(4)}"
        return cls(keys={key_id: secrets.token_bytes(KEY_BYTES)}, current_id=key_id)

    @classmethod
    def load_or_create(cls, path: Path) -> OriginKeyring:
        """The development keyring in `path`, made once (mode 0600) if missing."""
        if not path.exists():
            fresh = cls.generate(f"dev-{secrets.token_hex(4)}")
            text = (
                "# Casework development origin key: not for production.\n"
                f"# Set {ORIGIN_KEYS_ENV} instead. Events signed with it verify\n"
                "# only while it is kept.\n"
                f"{fresh.to_spec()}\n"
            )
            if create_private_file(path, text.encode("utf-8")):
                log.warning("origin.dev_key_created", path=str(path))
                return fresh
        if (mode := open_mode(path)) is not None:
            log.warning("origin.key_file_readable_by_others", path=str(path), mode=mode)
        return cls.parse(path.read_text(encoding="utf-8"))

    def to_spec(self) -> str:
        ids = (self.current_id, *(k for k in self.keys if k != self.current_id))
        return ",".join(f"{k}:{base64.b64encode(self.keys[k]).decode()}" for k in ids)

    def sign(self, body: bytes) -> tuple[str, bytes]:
        """(key id, HMAC-SHA256) of `body` with the current key."""
        return self.current_id, hmac.digest(self.keys[self.current_id], body, "sha256")

    def check(self, key_id: str | None, body: bytes, mac: bytes | None) -> str | None:
        """None when `mac` is a valid proof of `body`; else what is wrong."""
        if mac is None or key_id is None:
            return "no origin proof"
        key = self.keys.get(key_id)
        if key is None:
            return f"origin proof made with key {key_id!r}, which is not configured"
        if not hmac.compare_digest(hmac.digest(key, body, "sha256"), bytes(mac)):
            return "origin proof does not match (not written by the engine, or altered)"
        return None


# --- the cutover ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cutover:
    """The events without proofs when proofs began: how many, up to which position, and
    SHA-256 over their chain hashes in global order."""

    unsigned_events: int
    last_unsigned_position: int
    unsigned_digest: bytes

    def body(self) -> bytes:
        return "\n".join(
            [
                _CUTOVER_LABEL,
                str(self.unsigned_events),
                str(self.last_unsigned_position),
                self.unsigned_digest.hex(),
            ]
        ).encode()


_UNSIGNED = """SELECT global_position, hash FROM events WHERE origin_mac IS NULL
                ORDER BY global_position"""


async def _unsigned(conn: asyncpg.Connection) -> Cutover:
    digest = hashlib.sha256()
    count = last = 0
    async for row in conn.cursor(_UNSIGNED, prefetch=5000):
        count += 1
        last = int(row["global_position"])
        digest.update(bytes(row["hash"]))
    return Cutover(count, last, digest.digest())


async def record_cutover(pool: asyncpg.Pool, keyring: OriginKeyring) -> bool:
    """Record the cutover once, while no event carries a proof yet; True if written now.

    Called by a signing store before its first append. If proofs exist but no cutover
    does (someone deleted it), nothing is written: verify then reports it."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        if await conn.fetchval("SELECT EXISTS (SELECT FROM origin_cutover)"):
            return False
        if await conn.fetchval("SELECT EXISTS (SELECT FROM events WHERE origin_mac IS NOT NULL)"):
            log.error("origin.cutover_missing")
            return False
        cutover = await _unsigned(conn)
        key_id, mac = keyring.sign(cutover.body())
        status = await conn.execute(
            """INSERT INTO origin_cutover (unsigned_events, last_unsigned_position,
                   unsigned_digest, origin_key, origin_mac) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT DO NOTHING""",
            cutover.unsigned_events,
            cutover.last_unsigned_position,
            cutover.unsigned_digest,
            key_id,
            mac,
        )
    written = str(status).endswith(" 1")
    if written:
        log.info(
            "origin.cutover_recorded",
            unsigned_events=cutover.unsigned_events,
            last_unsigned_position=cutover.last_unsigned_position,
        )
    return written


# --- verification --------------------------------------------------------------------------


OriginFinding = ChainFinding
"""One event whose origin proof is missing or wrong: named as a broken chain link is."""


@dataclass(frozen=True)
class OriginReport:
    events: int
    signed: int
    before_proofs: int
    """Events without a proof that the recorded cutover covers (written before proofs
    began; covered by the first checkpoint instead)."""
    cutover: Cutover | None
    findings: list[OriginFinding]
    problems: list[str]
    """Findings about the log as a whole (the cutover record), not one event."""

    @property
    def ok(self) -> bool:
        return not self.findings and not self.problems

    def lines(self) -> list[str]:
        return [f"origin: {p}" for p in self.problems] + [f"origin: {f}" for f in self.findings]


_ORIGIN_COLUMNS = """global_position, stream_id, stream_version, event_id, event_type,
    schema_version, occurred_at, data::text AS data, metadata::text AS metadata,
    origin_key, origin_mac, hash"""


async def verify_origins(
    conn: asyncpg.Connection, keyring: OriginKeyring, batch: int = 5000
) -> OriginReport:
    """Check every event's origin proof; events without one must be exactly the ones the
    cutover recorded."""
    findings: list[OriginFinding] = []
    problems: list[str] = []
    events = signed = 0
    early = 0
    early_digest = hashlib.sha256()
    late: list[OriginFinding] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        recorded = await conn.fetchrow(
            """SELECT unsigned_events, last_unsigned_position, unsigned_digest, origin_key,
                      origin_mac FROM origin_cutover"""
        )
        cutover: Cutover | None = None
        if recorded is not None:
            cutover = Cutover(
                recorded["unsigned_events"],
                recorded["last_unsigned_position"],
                bytes(recorded["unsigned_digest"]),
            )
            wrong = keyring.check(recorded["origin_key"], cutover.body(), recorded["origin_mac"])
            if wrong is not None:
                problems.append(f"the cutover record is not the engine's: {wrong}")
                cutover = None
        elif await conn.fetchval("SELECT EXISTS (SELECT FROM events WHERE origin_mac IS NULL)"):
            problems.append("no cutover record: no event without an origin proof is explained")
        async for row in conn.cursor(
            f"SELECT {_ORIGIN_COLUMNS} FROM events ORDER BY global_position", prefetch=batch
        ):
            events += 1
            if row["origin_mac"] is None:
                if cutover is not None and row["global_position"] <= cutover.last_unsigned_position:
                    early += 1
                    early_digest.update(bytes(row["hash"]))
                elif cutover is not None:
                    late.append(_finding(row, "no origin proof, written after proofs began"))
                else:
                    late.append(_finding(row, "no origin proof"))
                continue
            body = origin_body(
                row["stream_id"],
                row["stream_version"],
                row["event_id"],
                row["event_type"],
                row["schema_version"],
                row["occurred_at"],
                json.loads(row["data"]),
                json.loads(row["metadata"]),
            )
            wrong = keyring.check(row["origin_key"], body, row["origin_mac"])
            if wrong is None:
                signed += 1
            else:
                findings.append(_finding(row, wrong))
    findings += late
    before = 0
    if cutover is not None:
        if early == cutover.unsigned_events and early_digest.digest() == cutover.unsigned_digest:
            before = early
        else:
            problems.append(
                f"the events without origin proofs up to position "
                f"{cutover.last_unsigned_position} are not the {cutover.unsigned_events} "
                f"recorded when proofs began ({early} now): one was added, removed or replaced"
            )
    return OriginReport(events, signed, before, cutover, findings, problems)


def _finding(row: asyncpg.Record, problem: str) -> OriginFinding:
    return OriginFinding(
        row["stream_id"], row["stream_version"], row["event_id"], row["global_position"], problem
    )
