"""Read model `transfers`: transfers between workers and teams, pending ones oldest first.

Table `transfers` (created by projections/migrations/0003_transfers.sql, which also
grants it to the projector and reader roles): a row per transfer request; `status`
moves pending → accepted | rejected, or → withdrawn when the case closes while the
transfer waits (the case's rules forget a pending transfer on closure, so nobody can
answer it any more).

Query: `pending_transfers`, the transfers waiting for the acting staff member's answer.
Unlike the other read models, a transfer is seen from the *receiving* side, as the
access table's `transfer_reply` row counts it (cases/access.py `COMMANDS`): a
caseworker sees the transfers naming them, and those to their team naming no worker
(any caseworker of the team may accept one, and takes the case); a supervisor those to
their team; a manager every one. Other roles answer no transfer (`AccessDenied`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from cases.access import COMMANDS, AccessDenied, Action
from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import CaseClosed, TransferAccepted, TransferRejected, TransferRequested
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, on

NAME = "transfers"
TABLES = ("transfers",)
MIGRATIONS = ("0003_transfers.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


# --- handlers ----------------------------------------------------------------------------


async def requested(
    conn: asyncpg.Connection, event: TransferRequested, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO transfers (case_id, transfer_id, status, to_worker, to_team, reason,
               requested_by, requested_role, requested_at)
           VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8)""",
        case_id_of(envelope),
        event.transfer_id,
        event.to_worker,
        event.to_team,
        event.reason,
        envelope.metadata.actor_id,
        envelope.metadata.actor_role,
        envelope.occurred_at,
    )


async def accepted(
    conn: asyncpg.Connection, event: TransferAccepted, envelope: RecordedEvent
) -> None:
    await _answer(conn, envelope, event.transfer_id, "accepted")


async def rejected(
    conn: asyncpg.Connection, event: TransferRejected, envelope: RecordedEvent
) -> None:
    await _answer(conn, envelope, event.transfer_id, "rejected")


async def _answer(
    conn: asyncpg.Connection, envelope: RecordedEvent, transfer_id: str, status: str
) -> None:
    await conn.execute(
        """UPDATE transfers SET status = $3, answered_by = $4, answered_role = $5,
                  answered_at = $6
            WHERE case_id = $1 AND transfer_id = $2""",
        case_id_of(envelope),
        transfer_id,
        status,
        envelope.metadata.actor_id,
        envelope.metadata.actor_role,
        envelope.occurred_at,
    )


async def case_closed(conn: asyncpg.Connection, event: CaseClosed, envelope: RecordedEvent) -> None:
    """A closed case's waiting transfer can no longer be answered."""
    await conn.execute(
        """UPDATE transfers SET status = 'withdrawn', answered_by = $2, answered_role = $3,
                  answered_at = $4
            WHERE case_id = $1 AND status = 'pending'""",
        case_id_of(envelope),
        envelope.metadata.actor_id,
        envelope.metadata.actor_role,
        envelope.occurred_at,
    )


HANDLERS = handler_map(
    on(TransferRequested, requested),
    on(TransferAccepted, accepted),
    on(TransferRejected, rejected),
    on(CaseClosed, case_closed),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -------------------------------------------------------------------------------


class PendingTransfer(BaseModel):
    case_id: str
    transfer_id: str
    client_ref: str
    from_team: str
    """The case's team now (the one it would leave)."""
    from_worker: str
    risk_level: str | None
    to_worker: str | None
    """The worker asked to take the case; None: any caseworker of `to_team`."""
    to_team: str
    reason: str
    requested_by: str
    requested_role: str
    requested_at: datetime


def receiving_scope(actor: Actor, args: list[object]) -> str:
    """The SQL predicate (over `transfers` as `t`) of the transfers `actor` may answer,
    from the access table's `transfer_reply` row; AccessDenied for a role without one."""
    relation = COMMANDS[Action.TRANSFER_REPLY].get(actor.role)
    if relation is None:
        raise AccessDenied(f"{actor.staff_id} ({actor.role}) does not answer transfers")
    if relation == "any":
        return "TRUE"
    if actor.team is None:
        return "FALSE"
    args.append(actor.team)
    team = f"t.to_team = ${len(args)}"
    if relation == "team":
        return team
    args.append(actor.staff_id)
    return f"(t.to_worker = ${len(args)} OR (t.to_worker IS NULL AND {team}))"


async def pending_transfers(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    limit: int = 500,
    after: tuple[datetime, str, str] | None = None,
) -> list[PendingTransfer]:
    """Transfers waiting for `actor`'s answer, oldest first (by requested_at, case_id,
    transfer_id: `after` one such key, the rows that follow it).

    Joins `case_summary` (another projection, with its own checkpoint) only for the
    case's own attributes shown beside the row (client_ref, current team and worker,
    risk level), never compared with the transfer's columns; who sees a transfer is
    decided by the transfer's receiving side alone (`receiving_scope`). While
    case_summary lags, a new case's transfer is missing, as in every query joining it
    (projections/scope.py, "Joining case_summary").
    """
    args: list[object] = [limit]
    where = ["t.status = 'pending'", receiving_scope(actor, args)]
    if after is not None:
        args.extend(after)
        n = len(args)
        where.append(f"(t.requested_at, t.case_id, t.transfer_id) > (${n - 2}, ${n - 1}, ${n})")
    rows = await pool.fetch(
        f"""SELECT t.case_id, t.transfer_id, cs.client_ref, cs.team AS from_team,
                   cs.worker AS from_worker, cs.risk_level, t.to_worker, t.to_team, t.reason,
                   t.requested_by, t.requested_role, t.requested_at
              FROM transfers t JOIN case_summary cs ON cs.case_id = t.case_id
             WHERE {" AND ".join(where)}
             ORDER BY t.requested_at, t.case_id, t.transfer_id
             LIMIT $1""",
        *args,
    )
    return [PendingTransfer.model_validate(dict(r)) for r in rows]
