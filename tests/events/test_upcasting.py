"""Old schema versions stay readable through upcasters."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

import asyncpg
import pytest

from events.catalog import default_registry
from events.registry import DomainEvent, EventRegistry, EventValidationError
from events.store import EventStore
from events.vocabulary import ContactLogged


class ReviewNoted(DomainEvent):
    """Version 2 split v1's single `text` into `summary` and a priority."""

    schema_version = 2
    type: Literal["ReviewNoted"] = "ReviewNoted"
    summary: str
    priority: Literal["normal", "urgent"]


def registry_with_review() -> EventRegistry:
    registry = default_registry()
    registry.register(ReviewNoted)

    @registry.upcaster("ReviewNoted", from_version=1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        text = data.pop("text")
        return {**data, "summary": text, "priority": "urgent" if "!" in text else "normal"}

    return registry


async def test_old_version_row_is_upcast_on_read(pool: asyncpg.Pool) -> None:
    store = EventStore(pool, registry_with_review())
    # A row written by an older release, straight into the log.
    await pool.execute(
        """INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
               data, metadata, occurred_at)
           VALUES ('case-old', 1, $1, 'ReviewNoted', 1, $2::jsonb, $3::jsonb, now())""",
        uuid.uuid4(),
        json.dumps({"text": "overdue!"}),
        json.dumps({"actor_id": "w1", "actor_role": "caseworker"}),
    )
    [recorded] = await store.read_stream("case-old")
    assert recorded.schema_version == 1
    decoded = store.decode(recorded)
    assert isinstance(decoded, ReviewNoted)
    assert (decoded.summary, decoded.priority) == ("overdue!", "urgent")


def test_writing_an_old_version_is_refused() -> None:
    with pytest.raises(EventValidationError, match="schema_version"):
        registry_with_review().validate_new("ReviewNoted", 1, {"text": "x"})


def test_missing_upcaster_is_a_clear_error() -> None:
    registry = EventRegistry()
    registry.register(ReviewNoted)
    with pytest.raises(EventValidationError, match="no upcaster from version 1"):
        registry.decode("ReviewNoted", 1, {"text": "x"})


def test_current_version_decodes_as_is() -> None:
    event = ContactLogged(contact_id="c1", kind="phone", contact_date="2026-02-01")
    decoded = default_registry().decode(event.type, 1, event.to_data())
    assert decoded == event
