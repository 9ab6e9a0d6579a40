"""The activity that appends a workflow's events to the event store.

It is idempotent: the workflow makes event ids with `workflow.uuid4()`, so a retry
after a lost acknowledgement re-appends the same ids and the store writes nothing.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from events.envelope import NewEvent
from events.registry import EventValidationError
from events.store import ConcurrencyError, EventStore, IdempotencyError


class AppendRequest(BaseModel):
    stream_id: str
    expected_version: int
    events: list[NewEvent]


class AppendReply(BaseModel):
    first_version: int
    last_version: int
    global_positions: list[int]
    occurred_at: datetime
    """When the events happened, as stored (the first attempt's time on a retry)."""
    duplicate: bool


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
