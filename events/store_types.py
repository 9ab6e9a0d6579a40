"""What the event store's API speaks in (events/store.py, which re-exports it all): its
errors (`ConcurrencyError`, `IdempotencyError`), the result of an append, the cursor of
the global order (`GlobalCursor`, `START`), the NOTIFY channel, and the `Cipher` step
that seals events before the INSERT and opens them on every read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from events.envelope import NewEvent, RecordedEvent
from events.registry import EventRegistry

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
