"""Read model `outcomes`: goal evaluations by domain and team, closures by reason,
and plan approval times.

Tables (created by projections/migrations/0001_read_models.sql, section "projection
outcomes"; granted in 0002_role_grants.sql; tests/projections/test_units.py checks
they exist after the migrations):

* `outcome_cases` — each case's current team and active plan (the projection's own
  working state: it never reads another projection's tables);
* `outcome_plan_goals` — the domain of every goal of every drafted plan version;
* `outcome_goal_evaluations`, `outcome_closures`, `outcome_plan_approvals` — the facts
  counted by the `outcomes` query.

An evaluated goal takes its domain from the case's active plan (the last
`PlanActivated`), else from the latest drafted version that has that goal, else
'unknown'. Outcomes are attributed to the team that held the case when they happened.

Query: `outcomes`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import (
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    GoalsEvaluated,
    PlanActivated,
    PlanDrafted,
    TransferAccepted,
)
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, on
from projections.scope import case_scope

NAME = "outcomes"
TABLES = (
    "outcome_cases",
    "outcome_plan_goals",
    "outcome_goal_evaluations",
    "outcome_closures",
    "outcome_plan_approvals",
)
MIGRATIONS = ("0001_read_models.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


# --- handlers ----------------------------------------------------------------------------

_TEAM = "(SELECT team FROM outcome_cases WHERE case_id = $1)"


async def case_opened(conn: asyncpg.Connection, event: CaseOpened, envelope: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO outcome_cases (case_id, team) VALUES ($1, $2)",
        case_id_of(envelope),
        event.team,
    )


async def reassigned(
    conn: asyncpg.Connection, event: CaseAssigned | TransferAccepted, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE outcome_cases SET team = $2 WHERE case_id = $1",
        case_id_of(envelope),
        event.team,
    )


async def plan_drafted(
    conn: asyncpg.Connection, event: PlanDrafted, envelope: RecordedEvent
) -> None:
    case_id = case_id_of(envelope)
    await conn.executemany(
        """INSERT INTO outcome_plan_goals (case_id, plan_id, plan_version, goal_id, domain)
           VALUES ($1, $2, $3, $4, $5)""",
        [
            (case_id, event.plan_id, event.plan_version, goal.goal_id, goal.domain.value)
            for goal in event.goals
        ],
    )


async def plan_activated(
    conn: asyncpg.Connection, event: PlanActivated, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE outcome_cases SET active_plan_id = $2, active_plan_version = $3
            WHERE case_id = $1""",
        case_id_of(envelope),
        event.plan_id,
        event.plan_version,
    )


async def approval_requested(
    conn: asyncpg.Connection, event: ApprovalRequested, envelope: RecordedEvent
) -> None:
    if event.kind is not ApprovalKind.PLAN:
        return
    await conn.execute(
        f"""INSERT INTO outcome_plan_approvals (case_id, approval_id, team, requested_at)
            VALUES ($1, $2, coalesce({_TEAM}, ''), $3)""",
        case_id_of(envelope),
        event.approval_id,
        envelope.occurred_at,
    )


async def approval_granted(
    conn: asyncpg.Connection, event: ApprovalGranted, envelope: RecordedEvent
) -> None:
    if event.kind is ApprovalKind.PLAN:
        await conn.execute(
            """UPDATE outcome_plan_approvals SET granted_at = $3
                WHERE case_id = $1 AND approval_id = $2""",
            case_id_of(envelope),
            event.approval_id,
            envelope.occurred_at,
        )


async def approval_returned(
    conn: asyncpg.Connection, event: ApprovalReturned, envelope: RecordedEvent
) -> None:
    if event.kind is ApprovalKind.PLAN:
        await conn.execute(
            """UPDATE outcome_plan_approvals SET returned_at = $3
                WHERE case_id = $1 AND approval_id = $2""",
            case_id_of(envelope),
            event.approval_id,
            envelope.occurred_at,
        )


async def goals_evaluated(
    conn: asyncpg.Connection, event: GoalsEvaluated, envelope: RecordedEvent
) -> None:
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
        case_id_of(envelope),
        event.evaluation_id,
        envelope.occurred_at,
        [e.goal_id for e in event.evaluations],
        [e.outcome.value for e in event.evaluations],
    )


async def case_closed(conn: asyncpg.Connection, event: CaseClosed, envelope: RecordedEvent) -> None:
    await conn.execute(
        f"""INSERT INTO outcome_closures (case_id, stream_version, reason, team, closed_at)
            VALUES ($1, $2, $3, coalesce({_TEAM}, ''), $4)""",
        case_id_of(envelope),
        envelope.stream_version,
        event.reason.value,
        envelope.occurred_at,
    )


HANDLERS = handler_map(
    on(CaseOpened, case_opened),
    on(CaseAssigned, reassigned),
    on(TransferAccepted, reassigned),
    on(PlanDrafted, plan_drafted),
    on(PlanActivated, plan_activated),
    on(ApprovalRequested, approval_requested),
    on(ApprovalGranted, approval_granted),
    on(ApprovalReturned, approval_returned),
    on(GoalsEvaluated, goals_evaluated),
    on(CaseClosed, case_closed),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -------------------------------------------------------------------------------


async def outcomes(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Goal evaluations by domain and team, closures by reason, time to plan approval.

    Over [since, until) of the events' times (default: all time). Each evaluation of a
    goal counts once (a goal evaluated twice in the period counts twice).

    Each of its three statements joins `case_summary` (another projection, with its
    own checkpoint) for the scope only: safe, because nothing is counted from it and
    visibility has one source for every query (projections/scope.py, "Joining
    case_summary"). The team an outcome is attributed to is this read model's own
    (the team that held the case then), not case_summary's current one.
    """
    lo = since or datetime(1900, 1, 1, tzinfo=UTC)
    hi = until or datetime(2999, 1, 1, tzinfo=UTC)
    args: list[object] = [lo, hi]
    scope = case_scope(actor).sql("cs", args)
    goals = await pool.fetch(
        f"""SELECT g.domain, g.team,
                   count(*) FILTER (WHERE g.outcome = 'met') AS met,
                   count(*) FILTER (WHERE g.outcome = 'partly_met') AS partly_met,
                   count(*) FILTER (WHERE g.outcome = 'not_met') AS not_met
              FROM outcome_goal_evaluations g JOIN case_summary cs ON cs.case_id = g.case_id
             WHERE g.evaluated_at >= $1 AND g.evaluated_at < $2 AND {scope}
             GROUP BY g.domain, g.team ORDER BY g.domain, g.team""",
        *args,
    )
    closures = await pool.fetch(
        f"""SELECT c.reason, count(*) AS closures
              FROM outcome_closures c JOIN case_summary cs ON cs.case_id = c.case_id
             WHERE c.closed_at >= $1 AND c.closed_at < $2 AND {scope}
             GROUP BY c.reason ORDER BY c.reason""",
        *args,
    )
    approval = await pool.fetchrow(
        f"""SELECT count(*) AS approved,
                   avg(extract(epoch FROM a.granted_at - a.requested_at))::float8 / 3600
                       AS avg_hours
              FROM outcome_plan_approvals a JOIN case_summary cs ON cs.case_id = a.case_id
             WHERE a.granted_at >= $1 AND a.granted_at < $2 AND {scope}""",
        *args,
    )
    assert approval is not None
    return {
        "since": since,
        "until": until,
        "goals": [dict(r) for r in goals],
        "closures": {r["reason"]: r["closures"] for r in closures},
        "plan_approval": {
            "approved": approval["approved"],
            "avg_hours_to_approval": (
                round(approval["avg_hours"], 2) if approval["avg_hours"] is not None else None
            ),
        },
    }
