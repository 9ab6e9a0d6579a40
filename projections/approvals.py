"""Read model `approvals`: plan and closure approvals, pending ones oldest first.

Table `approvals` (created by projections/migrations/0001_read_models.sql, section
"projection approvals"; granted in 0002_role_grants.sql; tests/projections/test_units.py
checks it exists after the migrations): a row per approval request; `status` moves
pending → granted | returned. Returned reasons stay in the log: only their number is
kept here.

Query: `pending_approvals`. The supervisors of the case's current team see the
pending ones (scope by the case summary's team, projections/scope.py).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import ApprovalGranted, ApprovalRequested, ApprovalReturned
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, moment, on
from projections.scope import case_scope, may_decide_approval

NAME = "approvals"
TABLES = ("approvals",)
MIGRATIONS = ("0001_read_models.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


# --- handlers ----------------------------------------------------------------------------


async def requested(
    conn: asyncpg.Connection, event: ApprovalRequested, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO approvals (case_id, approval_id, kind, status, plan_id, plan_version,
               closure_reason, requested_by, requested_role, requested_at)
           VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9)""",
        case_id_of(envelope),
        event.approval_id,
        event.kind.value,
        event.plan_id,
        event.plan_version,
        event.closure_reason.value if event.closure_reason is not None else None,
        envelope.metadata.actor_id,
        envelope.metadata.actor_role,
        envelope.occurred_at,
    )


async def granted(
    conn: asyncpg.Connection, event: ApprovalGranted, envelope: RecordedEvent
) -> None:
    await _decide(conn, envelope, event.approval_id, "granted", 0)


async def returned(
    conn: asyncpg.Connection, event: ApprovalReturned, envelope: RecordedEvent
) -> None:
    await _decide(conn, envelope, event.approval_id, "returned", len(event.reasons))


async def _decide(
    conn: asyncpg.Connection, envelope: RecordedEvent, approval_id: str, status: str, reasons: int
) -> None:
    await conn.execute(
        """UPDATE approvals SET status = $3, decided_by = $4, decided_role = $5,
                  decided_at = $6, returned_reasons = $7
            WHERE case_id = $1 AND approval_id = $2""",
        case_id_of(envelope),
        approval_id,
        status,
        envelope.metadata.actor_id,
        envelope.metadata.actor_role,
        envelope.occurred_at,
        reasons,
    )


HANDLERS = handler_map(
    on(ApprovalRequested, requested),
    on(ApprovalGranted, granted),
    on(ApprovalReturned, returned),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -------------------------------------------------------------------------------


class PendingApproval(BaseModel):
    approval_id: str
    case_id: str
    client_ref: str
    kind: str
    plan_id: str | None
    plan_version: int | None
    closure_reason: str | None
    requested_by: str
    requested_role: str
    requested_at: datetime
    team: str
    worker: str
    waiting_hours: float
    can_decide: bool
    """The acting staff member may approve or return it (a supervisor of the team who
    did not request it)."""


async def pending_approvals(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    kind: str | None = None,
    now: datetime | None = None,
    limit: int = 500,
    after: tuple[datetime, str, str] | None = None,
) -> list[PendingApproval]:
    """Approvals waiting for a decision, oldest first (by requested_at, case_id,
    approval_id: `after` one such key, the rows that follow it).

    Joins `case_summary` (another projection, with its own checkpoint) for the scope,
    the case's client_ref, current team and worker, and `can_decide` (from that same
    team): safe, because nothing of `approvals` is compared with or computed from it
    and visibility has one source for every query (projections/scope.py, "Joining
    case_summary"). While case_summary lags, a new case's approvals are missing and a
    transfer shows (and scopes) the previous team, exactly as the case's summary does.
    """
    args: list[object] = [moment(now), limit]
    where = ["a.status = 'pending'", case_scope(actor).sql("cs", args)]
    if kind is not None:
        args.append(kind)
        where.append(f"a.kind = ${len(args)}")
    if after is not None:
        args.extend(after)
        n = len(args)
        where.append(f"(a.requested_at, a.case_id, a.approval_id) > (${n - 2}, ${n - 1}, ${n})")
    rows = await pool.fetch(
        f"""SELECT a.approval_id, a.case_id, cs.client_ref, a.kind, a.plan_id, a.plan_version,
                   a.closure_reason, a.requested_by, a.requested_role, a.requested_at,
                   cs.team, cs.worker,
                   extract(epoch FROM $1 - a.requested_at)::float8 / 3600 AS waiting_hours
              FROM approvals a JOIN case_summary cs ON cs.case_id = a.case_id
             WHERE {" AND ".join(where)}
             ORDER BY a.requested_at, a.case_id, a.approval_id
             LIMIT $2""",
        *args,
    )
    return [
        PendingApproval(
            **dict(r),
            can_decide=may_decide_approval(actor, r["team"], r["requested_by"]),
        )
        for r in rows
    ]
