"""Read model `plan_actions`: the actions of plans' goals, due this week and overdue.

Table `plan_actions` (created by projections/migrations/0004_actions.sql, which also
grants it to the projector and reader roles): a row per action, its goal, its owner's
kind (and the worker's or provider's id; never a name), its due date and status
(open → overdue → done | dropped, `late` when done after the due date). What an action
says is personal data and stays in the case (`case show`).

Queries:

* `my_actions` — a worker's open actions due within the coming days (a week unless
  told), overdue ones first: the actions of the cases they may see (the `actions`
  row of the access table) whose owner is the case's worker, the client, family or a
  provider, and the actions they own themselves as another worker;
* `overdue_actions` — overdue actions of the teams the actor sees (a supervisor: their
  team), oldest due first, and `overdue_actions_by_team`, their count per team.

The worker an action is answered for is its owning worker, else the case's worker
as case_summary holds it now (projections/scope.py, "Joining case_summary": the
case's attributes, shown and used as the case's summary shows them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from pydantic import BaseModel

from cases.access import Query
from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionOwnerKind,
    ActionReassigned,
    ActionReminderDue,
)
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, moment, on
from projections.scope import case_scope

NAME = "plan_actions"
TABLES = ("plan_actions",)
MIGRATIONS = ("0004_actions.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


# --- handlers ----------------------------------------------------------------------------


async def added(conn: asyncpg.Connection, event: ActionAdded, envelope: RecordedEvent) -> None:
    await conn.execute(
        """INSERT INTO plan_actions (case_id, action_id, goal_id, owner_kind, owner_staff_id,
               owner_provider, crisis_plan, conference_id, due_at, status, added_by, added_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11)
           ON CONFLICT (case_id, action_id) DO NOTHING""",
        case_id_of(envelope),
        event.action_id,
        event.goal_id,
        event.owner.kind.value,
        event.owner.staff_id,
        event.owner.provider_id,
        event.crisis_plan,
        event.conference_id,
        event.due_at,
        envelope.metadata.actor_id,
        envelope.occurred_at,
    )


async def completed(
    conn: asyncpg.Connection, event: ActionCompleted, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE plan_actions SET status = 'done', late = $3, closed_at = $4
            WHERE case_id = $1 AND action_id = $2""",
        case_id_of(envelope),
        event.action_id,
        event.late,
        envelope.occurred_at,
    )


async def dropped(conn: asyncpg.Connection, event: ActionDropped, envelope: RecordedEvent) -> None:
    await conn.execute(
        """UPDATE plan_actions SET status = 'dropped', closed_at = $3
            WHERE case_id = $1 AND action_id = $2""",
        case_id_of(envelope),
        event.action_id,
        envelope.occurred_at,
    )


async def reassigned(
    conn: asyncpg.Connection, event: ActionReassigned, envelope: RecordedEvent
) -> None:
    """A new owner; a new due date re-arms the reminder and, if still ahead, reopens it
    (as cases/evolve.py does)."""
    await conn.execute(
        """UPDATE plan_actions
              SET owner_kind = $3, owner_staff_id = $4, owner_provider = $5,
                  reminded_at = CASE WHEN due_at = $6 THEN reminded_at END,
                  status = CASE WHEN due_at <> $6 AND status = 'overdue' AND $6 > $7
                                THEN 'open' ELSE status END,
                  overdue_at = CASE WHEN due_at <> $6 AND status = 'overdue' AND $6 > $7
                                    THEN NULL ELSE overdue_at END,
                  due_at = $6
            WHERE case_id = $1 AND action_id = $2""",
        case_id_of(envelope),
        event.action_id,
        event.owner.kind.value,
        event.owner.staff_id,
        event.owner.provider_id,
        event.due_at,
        envelope.occurred_at,
    )


async def reminded(
    conn: asyncpg.Connection, event: ActionReminderDue, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE plan_actions SET reminded_at = $3 WHERE case_id = $1 AND action_id = $2",
        case_id_of(envelope),
        event.action_id,
        envelope.occurred_at,
    )


async def overdue(conn: asyncpg.Connection, event: ActionOverdue, envelope: RecordedEvent) -> None:
    await conn.execute(
        """UPDATE plan_actions SET status = 'overdue', overdue_at = $3,
                  reminded_at = COALESCE(reminded_at, $3)
            WHERE case_id = $1 AND action_id = $2""",
        case_id_of(envelope),
        event.action_id,
        envelope.occurred_at,
    )


HANDLERS = handler_map(
    on(ActionAdded, added),
    on(ActionCompleted, completed),
    on(ActionDropped, dropped),
    on(ActionReassigned, reassigned),
    on(ActionReminderDue, reminded),
    on(ActionOverdue, overdue),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -------------------------------------------------------------------------------


class ActionRow(BaseModel):
    case_id: str
    action_id: str
    goal_id: str
    client_ref: str
    team: str
    worker: str
    """Who answers for it: the owning worker, else the case's worker."""
    owner_kind: ActionOwnerKind
    owner_staff_id: str | None
    owner_provider: str | None
    crisis_plan: bool
    conference_id: str | None
    due_at: datetime
    status: str
    late: bool
    reminded_at: datetime | None
    overdue_at: datetime | None
    closed_at: datetime | None


_COLUMNS = """a.case_id, a.action_id, a.goal_id, cs.client_ref, cs.team,
              COALESCE(a.owner_staff_id, cs.worker) AS worker, a.owner_kind,
              a.owner_staff_id, a.owner_provider, a.crisis_plan, a.conference_id, a.due_at,
              a.status, a.late, a.reminded_at, a.overdue_at, a.closed_at"""
_OPEN_CASES = "cs.status = 'open'"


async def my_actions(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    within: timedelta = timedelta(days=7),
    now: datetime | None = None,
    limit: int = 500,
) -> list[ActionRow]:
    """`actor`'s open actions due before `now + within` (overdue ones included), overdue
    first, then by due date."""
    args: list[object] = [limit, moment(now) + within, actor.staff_id]
    scope = case_scope(actor, Query.ACTIONS).sql("cs", args)
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS}
              FROM plan_actions a JOIN case_summary cs ON cs.case_id = a.case_id
             WHERE a.status IN ('open', 'overdue') AND a.due_at < $2 AND {_OPEN_CASES}
               AND COALESCE(a.owner_staff_id, cs.worker) = $3
               AND ({scope} OR a.owner_staff_id = $3)
             ORDER BY a.status = 'overdue' DESC, a.due_at, a.case_id, a.action_id
             LIMIT $1""",
        *args,
    )
    return [ActionRow.model_validate(dict(r)) for r in rows]


async def overdue_actions(
    pool: asyncpg.Pool, actor: Actor, *, team: str | None = None, limit: int = 500
) -> list[ActionRow]:
    """Overdue actions of open cases the actor sees (of `team` only, if given), oldest
    due first."""
    args: list[object] = [limit]
    where = ["a.status = 'overdue'", _OPEN_CASES, case_scope(actor, Query.ACTIONS).sql("cs", args)]
    if team is not None:
        args.append(team)
        where.append(f"cs.team = ${len(args)}")
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS}
              FROM plan_actions a JOIN case_summary cs ON cs.case_id = a.case_id
             WHERE {" AND ".join(where)}
             ORDER BY a.due_at, a.case_id, a.action_id
             LIMIT $1""",
        *args,
    )
    return [ActionRow.model_validate(dict(r)) for r in rows]


class TeamOverdue(BaseModel):
    team: str
    overdue: int
    critical: int
    """Of them, actions of a crisis plan."""


async def overdue_actions_by_team(pool: asyncpg.Pool, actor: Actor) -> list[TeamOverdue]:
    """How many actions are overdue on the open cases of each team the actor sees."""
    args: list[object] = []
    scope = case_scope(actor, Query.ACTIONS).sql("cs", args)
    rows = await pool.fetch(
        f"""SELECT cs.team, count(*) AS overdue, count(*) FILTER (WHERE a.crisis_plan) AS critical
              FROM plan_actions a JOIN case_summary cs ON cs.case_id = a.case_id
             WHERE a.status = 'overdue' AND {_OPEN_CASES} AND {scope}
             GROUP BY cs.team ORDER BY cs.team""",
        *args,
    )
    return [TeamOverdue.model_validate(dict(r)) for r in rows]


async def goal_actions(pool: asyncpg.Pool, actor: Actor, case_id: str) -> list[ActionRow]:
    """Every action of one case the actor sees, by goal, then due date."""
    args: list[object] = [case_id]
    scope = case_scope(actor, Query.ACTIONS).sql("cs", args)
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS}
              FROM plan_actions a JOIN case_summary cs ON cs.case_id = a.case_id
             WHERE a.case_id = $1 AND {scope}
             ORDER BY a.goal_id, a.due_at, a.action_id""",
        *args,
    )
    return [ActionRow.model_validate(dict(r)) for r in rows]
