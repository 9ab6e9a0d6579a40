"""The activities that append a workflow's events to the event store.

`append_events` (a regular activity: cases started before PATCH_LOCAL_APPEND) is
idempotent: the workflow makes event ids with `workflow.uuid4()`, so a retry after a
lost acknowledgement re-appends the same ids and the store writes nothing.

`append_command` (a LOCAL activity, run inside the workflow task that decided the
events) treats the log as the truth and the workflow's state as a cache of it. A
worker lost after the commit but before its workflow task completed leaves the log
ahead of the history; the workflow task is then run again, possibly deciding other
events. So when an append finds the stream moved on (`ConcurrencyError`) or its event
ids already used (`IdempotencyError`), it writes nothing and answers what the
workflow has not seen: every event after its expected version (`behind`), and the
request's own events if an earlier attempt already wrote them (`already`: the
workflow derives a command's event ids from its update id, so a retried command
finds its first attempt instead of writing twice). The workflow folds `behind`, and
either takes `already` as its result or decides again on the caught-up state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from events.envelope import NewEvent
from events.registry import EventValidationError
from events.store import ConcurrencyError, EventStore, IdempotencyError


class AppendRequest(BaseModel):
    stream_id: str
    expected_version: int
    events: list[NewEvent]
    key: str | None = None
    """What the event ids were derived from (`append_command`): the same key on another
    attempt means the same decision, so its events found in the log are this command's.
    None: ids from `workflow.uuid4()`, and ids found in the log are a collision, never
    a first attempt (the workflow decides again with fresh ids)."""


class AppendReply(BaseModel):
    first_version: int
    last_version: int
    global_positions: list[int]
    occurred_at: datetime
    """When the events happened, as stored (the first attempt's time on a retry)."""
    duplicate: bool


class LoggedEvent(BaseModel):
    """An event of the log as the workflow folds it (decrypted; no hashes)."""

    event_id: UUID
    stream_version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    actor_id: str
    correlation_id: str | None = None
    occurred_at: datetime


class CommandAppendReply(BaseModel):
    """Appended, or the log was ahead of the workflow: what it holds that the workflow
    has not seen."""

    appended: AppendReply | None = None
    behind: list[LoggedEvent] = Field(default_factory=list)
    """Every event of the stream after the request's expected version, in order."""
    already: list[LoggedEvent] = Field(default_factory=list)
    """The request's own events (same ids), written by an earlier attempt."""


def _logged(event: Any) -> LoggedEvent:
    return LoggedEvent(
        event_id=event.event_id,
        stream_version=event.stream_version,
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.data,
        actor_id=event.metadata.actor_id,
        correlation_id=event.metadata.correlation_id,
        occurred_at=event.occurred_at,
    )


class StoreActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="append_events")
    async def append_events(self, request: AppendRequest) -> AppendReply:
        try:
            result = await self.store.append(
                request.stream_id, request.expected_version, request.events
            )
        except ConcurrencyError as exc:
            # Another writer moved the stream: retrying cannot help, the workflow must know.
            raise ApplicationError(str(exc), type="ConcurrencyError", non_retryable=True) from exc
        except (IdempotencyError, EventValidationError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
        if not result.duplicate:
            activity.metric_meter().create_counter(
                "casework_events_appended", "Events appended to the log"
            ).add(len(request.events), {"stream_kind": request.stream_id.split("-", 1)[0]})
        activity.logger.debug(
            "events appended",
            extra={"stream_id": request.stream_id, "last_version": result.last_version},
        )
        return AppendReply(
            first_version=result.first_version,
            last_version=result.last_version,
            global_positions=list(result.global_positions),
            occurred_at=result.occurred_at[0],
            duplicate=result.duplicate,
        )

    @activity.defn(name="append_command")
    async def append_command(self, request: AppendRequest) -> CommandAppendReply:
        """Append, or tell the workflow what the log holds beyond its state (see above)."""
        try:
            reply = await self.append_events(request)
        except ApplicationError as exc:
            if exc.type not in ("ConcurrencyError", "IdempotencyError"):
                raise
        else:
            return CommandAppendReply(appended=reply)
        return await self._catch_up(request)

    async def _catch_up(self, request: AppendRequest) -> CommandAppendReply:
        stream_id = request.stream_id
        behind = await self.store.read_stream(stream_id, request.expected_version + 1)
        ids = {e.event_id for e in request.events}
        found = await self.store.pool.fetch(
            "SELECT stream_id, stream_version FROM events WHERE event_id = ANY($1::uuid[])",
            list(ids),
        )
        already: list[LoggedEvent] = []
        if found and request.key is not None:
            if any(r["stream_id"] != stream_id for r in found):
                raise ApplicationError(
                    f"event ids of this append (key {request.key!r}) are in another stream",
                    type="IdempotencyError",
                    non_retryable=True,
                )
            # The same key: an earlier attempt of this decision (it may have decided more
            # or fewer events than this one; any it decided beyond these ids are in
            # `behind`, folded by the workflow all the same).
            versions = [int(r["stream_version"]) for r in found]
            first, last = min(versions), max(versions)
            events = await self.store.read_stream(stream_id, first, limit=last - first + 1)
            prefix = {e.event_id for e in request.events}
            already = [_logged(e) for e in events if e.event_id in prefix]
        activity.logger.info(
            "the log is ahead of the workflow: catching up",
            extra={
                "stream_id": stream_id,
                "expected_version": request.expected_version,
                "behind": len(behind),
                "already_appended": bool(already),
            },
        )
        return CommandAppendReply(behind=[_logged(e) for e in behind], already=already)
