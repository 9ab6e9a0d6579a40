"""Read model `outcomes`: goal evaluations by domain and team, closures by reason,
and plan approval times.

Tables (created by projections/migrations/0001_read_models.sql, section "projection
outcomes"; granted in 0002_role_grants.sql; tests/projections/test_units.py checks
they exist after the migrations):

* `outcome_cases` — each case's current team and active plan (the projection's own
  working state: it never reads another projection's tables);
* `outcome_plan_goals` — the domain of every goal of every drafted plan version;
* `outcome_goal_evaluations`, `outcome_closures`, `outcome_plan_approvals` — the facts
  counted by the `outcomes` query;
* `outcome_advocacy` — each advocacy on a client's behalf: barrier, organisation, the
  actions taken (was there an appeal?) and its outcome; `outcome_feedback` — each
  rating the client gave a provider's service, a referral or their plan (created by
  projections/migrations/0005_advocacy_feedback.sql, issue 16). No personal data: the
  client's words and the advocacy's details stay in the encrypted log.

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
    AdvocacyConcluded,
    AdvocacyOpened,
    AdvocacyStepRecorded,
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    ClientFeedbackRecorded,
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
    "outcome_advocacy",
    "outcome_feedback",
)
MIGRATIONS = ("0001_read_models.sql", "0005_advocacy_feedback.sql")
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


async def advocacy_opened(
    conn: asyncpg.Connection, event: AdvocacyOpened, envelope: RecordedEvent
) -> None:
    await conn.execute(
        f"""INSERT INTO outcome_advocacy
               (case_id, advocacy_id, team, barrier, organisation, actions, opened_at)
            VALUES ($1, $2, coalesce({_TEAM}, ''), $3, $4, $5, $6)""",
        case_id_of(envelope),
        event.advocacy_id,
        event.barrier.value,
        event.organisation,
        [event.action.value],
        envelope.occurred_at,
    )


async def advocacy_step(
    conn: asyncpg.Connection, event: AdvocacyStepRecorded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE outcome_advocacy SET actions = array_append(actions, $3)
            WHERE case_id = $1 AND advocacy_id = $2""",
        case_id_of(envelope),
        event.advocacy_id,
        event.action.value,
    )


async def advocacy_concluded(
    conn: asyncpg.Connection, event: AdvocacyConcluded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE outcome_advocacy SET outcome = $3, concluded_at = $4
            WHERE case_id = $1 AND advocacy_id = $2""",
        case_id_of(envelope),
        event.advocacy_id,
        event.outcome.value,
        envelope.occurred_at,
    )


async def feedback_recorded(
    conn: asyncpg.Connection, event: ClientFeedbackRecorded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        f"""INSERT INTO outcome_feedback
               (case_id, feedback_id, team, subject, provider_id, service_id, plan_version,
                rating, agrees_with_plan, recorded_at)
            VALUES ($1, $2, coalesce({_TEAM}, ''), $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (case_id, feedback_id) DO NOTHING""",
        case_id_of(envelope),
        event.feedback_id,
        event.subject.value,
        event.provider_id,
        event.service_id,
        event.plan_version,
        event.rating,
        event.agrees_with_plan,
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
    on(AdvocacyOpened, advocacy_opened),
    on(AdvocacyStepRecorded, advocacy_step),
    on(AdvocacyConcluded, advocacy_concluded),
    on(ClientFeedbackRecorded, feedback_recorded),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -------------------------------------------------------------------------------


_CONCLUDED = (
    "count(*) FILTER (WHERE a.concluded_at >= $1 AND a.concluded_at < $2 AND a.outcome = '{}')"
)


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
    advocacy = await pool.fetch(
        f"""SELECT a.barrier, a.team,
                   count(*) FILTER (WHERE a.opened_at >= $1 AND a.opened_at < $2) AS opened,
                   count(*) FILTER (WHERE a.outcome IS NULL) AS still_open,
                   {_CONCLUDED.format("resolved")} AS resolved,
                   {_CONCLUDED.format("partly_resolved")} AS partly_resolved,
                   {_CONCLUDED.format("not_resolved")} AS not_resolved,
                   {_CONCLUDED.format("withdrawn")} AS withdrawn,
                   count(*) FILTER (WHERE a.concluded_at >= $1 AND a.concluded_at < $2
                                      AND 'appeal' = ANY(a.actions)) AS appealed,
                   count(*) FILTER (WHERE a.concluded_at >= $1 AND a.concluded_at < $2
                                      AND 'appeal' = ANY(a.actions)
                                      AND a.outcome = 'resolved') AS won_on_appeal
              FROM outcome_advocacy a JOIN case_summary cs ON cs.case_id = a.case_id
             WHERE ((a.opened_at >= $1 AND a.opened_at < $2)
                    OR (a.concluded_at >= $1 AND a.concluded_at < $2)
                    OR a.outcome IS NULL) AND {scope}
             GROUP BY a.barrier, a.team ORDER BY a.barrier, a.team""",
        *args,
    )
    feedback = await pool.fetch(
        f"""SELECT f.provider_id, f.service_id, count(*) AS ratings,
                   round(avg(f.rating), 2)::float8 AS avg_rating,
                   count(*) FILTER (WHERE f.rating <= 2) AS poor
              FROM outcome_feedback f JOIN case_summary cs ON cs.case_id = f.case_id
             WHERE f.recorded_at >= $1 AND f.recorded_at < $2 AND f.provider_id IS NOT NULL
               AND {scope}
             GROUP BY f.provider_id, f.service_id
             ORDER BY avg(f.rating), f.provider_id, f.service_id""",
        *args,
    )
    plans = await pool.fetchrow(
        f"""SELECT count(*) AS ratings, round(avg(f.rating), 2)::float8 AS avg_rating,
                   count(*) FILTER (WHERE f.agrees_with_plan) AS agrees,
                   count(*) FILTER (WHERE NOT f.agrees_with_plan) AS disagrees
              FROM outcome_feedback f JOIN case_summary cs ON cs.case_id = f.case_id
             WHERE f.recorded_at >= $1 AND f.recorded_at < $2 AND f.subject = 'plan'
               AND {scope}""",
        *args,
    )
    assert plans is not None
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
        "advocacy": [dict(r) for r in advocacy],
        "feedback": [dict(r) for r in feedback],
        "plan_feedback": dict(plans),
    }
