"""The envelope every event travels in: identity, metadata, times, position and hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ACTOR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"


class EventMetadata(BaseModel):
    """Who caused an event and in which causal chain (stored as jsonb `metadata`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor_id: str = Field(pattern=ACTOR_ID_PATTERN)
    actor_role: str = Field(min_length=1, max_length=40)
    correlation_id: str | None = Field(default=None, max_length=200)
    causation_id: str | None = Field(default=None, max_length=200)
    workflow_id: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=200)


class NewEvent(BaseModel):
    """An event to append. `data` is validated against the vocabulary before writing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID
    event_type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    data: dict[str, Any]
    metadata: EventMetadata
    occurred_at: AwareDatetime


class RecordedEvent(BaseModel):
    """An event as stored in the log."""

    model_config = ConfigDict(frozen=True)

    global_position: int
    transaction_id: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    occurred_at: datetime
    recorded_at: datetime
    previous_hash: bytes | None
    hash: bytes
