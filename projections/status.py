"""Where each projection stands: position, lag in events and seconds, error, runner."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from events.store import GlobalCursor
from projections.base import Projection
from projections.rebuild import count_events_after
from projections.runner import RUNNER_LOCK_CLASS, lock_key


class ProjectionStatus(BaseModel):
    name: str
    transaction_id: int
    global_position: int
    updated_at: datetime | None
    lag_events: int
    """Events after the checkpoint in the global order."""
    lag_seconds: float
    """now() minus recorded_at of the oldest event after the checkpoint (0 when none)."""
    running: bool
    """A runner holds the projection's advisory lock."""
    rebuilding: bool
    rebuild_events_done: int | None = None
    last_error: str | None = None
    error_event_id: UUID | None = None
    error_event_type: str | None = None
    error_global_position: int | None = None
    error_at: datetime | None = None

    @property
    def state(self) -> str:
        if self.last_error:
            return "stopped"
        if self.rebuilding:
            return "rebuilding"
        return "running" if self.running else "idle"


async def projection_status(
    conn: asyncpg.Connection | asyncpg.Pool, projections: list[Projection]
) -> list[ProjectionStatus]:
    result = []
    for projection in projections:
        row = await conn.fetchrow(
            """SELECT c.transaction_id, c.global_position, c.updated_at, c.last_error,
                      c.error_event_id, c.error_event_type, c.error_global_position, c.error_at,
                      r.events_done AS rebuild_done,
                      EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'
                               AND l.database = (SELECT oid FROM pg_database
                                                  WHERE datname = current_database())
                               AND l.classid = $2::bigint::oid AND l.objid = $3::bigint::oid
                               AND l.objsubid = 2 AND l.granted) AS running
                 FROM (SELECT $1::text AS name) n
                 LEFT JOIN projection_checkpoints c ON c.name = n.name
                 LEFT JOIN projection_rebuilds r ON r.name = n.name""",
            projection.name,
            RUNNER_LOCK_CLASS,
            lock_key(projection.name),
        )
        assert row is not None
        cursor = GlobalCursor(row["transaction_id"] or 0, row["global_position"] or 0)
        oldest = await conn.fetchval(
            """SELECT extract(epoch FROM now() - recorded_at)::float8 FROM events
                WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
                ORDER BY transaction_id, global_position LIMIT 1""",
            str(cursor.transaction_id),
            cursor.global_position,
        )
        lag_events = await count_events_after(conn, cursor)
        result.append(
            ProjectionStatus(
                name=projection.name,
                transaction_id=cursor.transaction_id,
                global_position=cursor.global_position,
                updated_at=row["updated_at"],
                lag_events=lag_events,
                lag_seconds=max(0.0, float(oldest or 0.0)),
                running=bool(row["running"]),
                rebuilding=row["rebuild_done"] is not None,
                rebuild_events_done=row["rebuild_done"],
                last_error=row["last_error"],
                error_event_id=row["error_event_id"],
                error_event_type=row["error_event_type"],
                error_global_position=row["error_global_position"],
                error_at=row["error_at"],
            )
        )
    return result
