"""Read model `approvals`: plan and closure approvals, pending ones oldest first.

A row per approval request; `status` moves pending → granted | returned. The
supervisors of the case's current team see the pending ones (scope by the case
summary's team, projections/scope.py). Returned reasons stay in the log: only their
number is kept here.
"""

from __future__ import annotations

import asyncpg

from events.envelope import RecordedEvent
from projections.base import Handler, Projection, case_id_of, data_of, ignoring_the_rest

NAME = "approvals"


async def requested(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await conn.execute(
        """INSERT INTO approvals (case_id, approval_id, kind, status, plan_id, plan_version,
               closure_reason, requested_by, requested_role, requested_at)
           VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9)""",
        case_id_of(event),
        d["approval_id"],
        d["kind"],
        d.get("plan_id"),
        d.get("plan_version"),
        d.get("closure_reason"),
        event.metadata.actor_id,
        event.metadata.actor_role,
        event.occurred_at,
    )


async def granted(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _decide(conn, event, "granted", 0)


async def returned(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _decide(conn, event, "returned", len(data_of(event)["reasons"]))


async def _decide(
    conn: asyncpg.Connection, event: RecordedEvent, status: str, reasons: int
) -> None:
    await conn.execute(
        """UPDATE approvals SET status = $3, decided_by = $4, decided_role = $5,
                  decided_at = $6, returned_reasons = $7
            WHERE case_id = $1 AND approval_id = $2""",
        case_id_of(event),
        data_of(event)["approval_id"],
        status,
        event.metadata.actor_id,
        event.metadata.actor_role,
        event.occurred_at,
        reasons,
    )


HANDLERS: dict[str, Handler] = {
    "ApprovalRequested": requested,
    "ApprovalGranted": granted,
    "ApprovalReturned": returned,
}

PROJECTION = Projection(
    name=NAME,
    tables=("approvals",),
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)
