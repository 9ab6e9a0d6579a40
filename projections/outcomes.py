"""Read models of outcomes: goal evaluations by domain and team, closures by reason,
and plan approval times.

An evaluated goal takes its domain from the case's active plan (the last
`PlanActivated`), else from the latest drafted version that has that goal, else
'unknown'. Outcomes are attributed to the team that held the case when they happened.
"""

from __future__ import annotations

import asyncpg

from events.envelope import RecordedEvent
from projections.base import Handler, Projection, case_id_of, data_of, ignoring_the_rest

NAME = "outcomes"

_TEAM = "(SELECT team FROM outcome_cases WHERE case_id = $1)"


async def case_opened(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO outcome_cases (case_id, team) VALUES ($1, $2)",
        case_id_of(event),
        data_of(event)["team"],
    )


async def reassigned(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE outcome_cases SET team = $2 WHERE case_id = $1",
        case_id_of(event),
        data_of(event)["team"],
    )


async def plan_drafted(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    case_id = case_id_of(event)
    await conn.executemany(
        """INSERT INTO outcome_plan_goals (case_id, plan_id, plan_version, goal_id, domain)
           VALUES ($1, $2, $3, $4, $5)""",
        [
            (case_id, d["plan_id"], d["plan_version"], goal["goal_id"], goal["domain"])
            for goal in d["goals"]
        ],
    )


async def plan_activated(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await conn.execute(
        """UPDATE outcome_cases SET active_plan_id = $2, active_plan_version = $3
            WHERE case_id = $1""",
        case_id_of(event),
        d["plan_id"],
        d["plan_version"],
    )


async def approval_requested(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    if d["kind"] != "plan":
        return
    await conn.execute(
        f"""INSERT INTO outcome_plan_approvals (case_id, approval_id, team, requested_at)
            VALUES ($1, $2, coalesce({_TEAM}, ''), $3)""",
        case_id_of(event),
        d["approval_id"],
        event.occurred_at,
    )


async def approval_granted(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    if d["kind"] == "plan":
        await conn.execute(
            """UPDATE outcome_plan_approvals SET granted_at = $3
                WHERE case_id = $1 AND approval_id = $2""",
            case_id_of(event),
            d["approval_id"],
            event.occurred_at,
        )


async def approval_returned(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    if d["kind"] == "plan":
        await conn.execute(
            """UPDATE outcome_plan_approvals SET returned_at = $3
                WHERE case_id = $1 AND approval_id = $2""",
            case_id_of(event),
            d["approval_id"],
            event.occurred_at,
        )


async def goals_evaluated(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    case_id = case_id_of(event)
    await conn.execute(
        f"""INSERT INTO outcome_goal_evaluations
               (case_id, evaluation_id, goal_id, domain, outcome, team, evaluated_at)
            SELECT $1, $2, e.goal_id,
                   coalesce(
                     (SELECT g.domain FROM outcome_plan_goals g JOIN outcome_cases c
                         ON c.case_id = g.case_id AND c.active_plan_id = g.plan_id
                        AND c.active_plan_version = g.plan_version
                       WHERE g.case_id = $1 AND g.goal_id = e.goal_id),
                     (SELECT g.domain FROM outcome_plan_goals g
                       WHERE g.case_id = $1 AND g.goal_id = e.goal_id
                       ORDER BY g.plan_version DESC, g.plan_id DESC LIMIT 1),
                     'unknown'),
                   e.outcome, coalesce({_TEAM}, ''), $3
              FROM unnest($4::text[], $5::text[]) AS e(goal_id, outcome)""",
        case_id,
        d["evaluation_id"],
        event.occurred_at,
        [e["goal_id"] for e in d["evaluations"]],
        [e["outcome"] for e in d["evaluations"]],
    )


async def case_closed(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        f"""INSERT INTO outcome_closures (case_id, stream_version, reason, team, closed_at)
            VALUES ($1, $2, $3, coalesce({_TEAM}, ''), $4)""",
        case_id_of(event),
        event.stream_version,
        data_of(event)["reason"],
        event.occurred_at,
    )


HANDLERS: dict[str, Handler] = {
    "CaseOpened": case_opened,
    "CaseAssigned": reassigned,
    "TransferAccepted": reassigned,
    "PlanDrafted": plan_drafted,
    "PlanActivated": plan_activated,
    "ApprovalRequested": approval_requested,
    "ApprovalGranted": approval_granted,
    "ApprovalReturned": approval_returned,
    "GoalsEvaluated": goals_evaluated,
    "CaseClosed": case_closed,
}

PROJECTION = Projection(
    name=NAME,
    tables=(
        "outcome_cases",
        "outcome_plan_goals",
        "outcome_goal_evaluations",
        "outcome_closures",
        "outcome_plan_approvals",
    ),
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)
