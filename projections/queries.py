"""Queries over the read models: each takes the pool, the acting staff member and
parameters, and returns only what that actor may see (projections/scope.py).

Times: `now` (default: the current time, UTC) is a parameter so answers are
reproducible; "today" is `now`'s UTC date. Read models may lag the log by the
projector's lag (see `casework projections status`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from cases.actors import Actor
from projections.scope import CaseNotVisible, case_scope, may_decide_approval

RISK_LEVELS = ("low", "medium", "high", "crisis")


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _today(now: datetime | None) -> date:
    return _now(now).astimezone(UTC).date()


# --- case summary --------------------------------------------------------------------------


class CaseSummary(BaseModel):
    case_id: str
    status: str
    client_ref: str
    referral_source: str
    worker: str
    team: str
    risk_level: str | None
    opened_at: datetime
    consent_recorded: bool
    last_assessed_at: datetime | None
    next_review_due: datetime | None
    last_contact: date | None
    plan_status: str | None
    draft_plan_id: str | None
    draft_plan_version: int | None
    active_plan_id: str | None
    active_plan_version: int | None
    pending_approval_kind: str | None
    open_referrals: int
    open_escalations: int
    on_hold: bool
    last_evaluated_at: datetime | None
    closed_at: datetime | None
    closure_reason: str | None
    last_event_at: datetime
    stream_version: int


_SUMMARY_COLUMNS = ", ".join(f"cs.{name}" for name in CaseSummary.model_fields)


async def case_summary(pool: asyncpg.Pool, actor: Actor, case_id: str | UUID) -> CaseSummary:
    args: list[object] = [str(case_id)]
    where = case_scope(actor).sql("cs", args)
    row = await pool.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS} FROM case_summary cs WHERE cs.case_id = $1 AND {where}",
        *args,
    )
    if row is None:
        raise CaseNotVisible(str(case_id))
    return CaseSummary.model_validate(dict(row))


# --- caseload ------------------------------------------------------------------------------


class Caseload(BaseModel):
    """Open cases of one worker (or, with `worker` None, of a whole team)."""

    team: str
    worker: str | None
    workers: int
    open_cases: int
    by_risk: dict[str, int]
    """Open cases by risk level; 'unassessed' for cases without an assessment yet."""
    overdue_reviews: int
    max_days_since_contact: int | None
    avg_days_since_contact: float | None
    never_contacted: int


def _caseload_select(group: str) -> str:
    risk = ", ".join(
        f"count(*) FILTER (WHERE cs.risk_level = '{r}') AS risk_{r}" for r in RISK_LEVELS
    )
    return f"""SELECT {group}, count(DISTINCT cs.worker) AS workers, count(*) AS open_cases,
                {risk}, count(*) FILTER (WHERE cs.risk_level IS NULL) AS risk_unassessed,
                count(*) FILTER (WHERE cs.next_review_due < $2) AS overdue_reviews,
                max($1 - cs.last_contact) AS max_days,
                avg($1 - cs.last_contact)::float8 AS avg_days,
                count(*) FILTER (WHERE cs.last_contact IS NULL) AS never_contacted
           FROM case_summary cs"""


def _caseload_row(row: asyncpg.Record, per_worker: bool) -> Caseload:
    by_risk = {r: row[f"risk_{r}"] for r in RISK_LEVELS}
    by_risk["unassessed"] = row["risk_unassessed"]
    return Caseload(
        team=row["team"],
        worker=row["worker"] if per_worker else None,
        workers=row["workers"],
        open_cases=row["open_cases"],
        by_risk=by_risk,
        overdue_reviews=row["overdue_reviews"],
        max_days_since_contact=row["max_days"],
        avg_days_since_contact=(round(row["avg_days"], 1) if row["avg_days"] is not None else None),
        never_contacted=row["never_contacted"],
    )


async def caseload(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    worker: str | None = None,
    team: str | None = None,
    by: str = "worker",
    now: datetime | None = None,
) -> list[Caseload]:
    """Open cases per worker (`by="worker"`) or per team (`by="team"`), visible ones only."""
    if by not in ("worker", "team"):
        raise ValueError("by: 'worker' or 'team'")
    args: list[object] = [_today(now), _now(now)]
    where = ["cs.status = 'open'", case_scope(actor).sql("cs", args)]
    if worker is not None:
        args.append(worker)
        where.append(f"cs.worker = ${len(args)}")
    if team is not None:
        args.append(team)
        where.append(f"cs.team = ${len(args)}")
    group = "cs.team, cs.worker" if by == "worker" else "cs.team"
    rows = await pool.fetch(
        f"{_caseload_select(group)} WHERE {' AND '.join(where)} GROUP BY {group} ORDER BY {group}",
        *args,
    )
    return [_caseload_row(r, by == "worker") for r in rows]


# --- pending approvals ---------------------------------------------------------------------


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
) -> list[PendingApproval]:
    """Approvals waiting for a decision, oldest first."""
    args: list[object] = [_now(now), limit]
    where = ["a.status = 'pending'", case_scope(actor).sql("cs", args)]
    if kind is not None:
        args.append(kind)
        where.append(f"a.kind = ${len(args)}")
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


# --- referrals -------------------------------------------------------------------------------

AWAITING_REPLY = ("made", "sent", "dispatch_failed")


class Referral(BaseModel):
    case_id: str
    referral_id: str
    provider_id: str
    service_id: str
    goal_id: str
    status: str
    made_by: str
    made_at: datetime
    dispatched_at: datetime | None
    dispatch_attempts: int
    dispatch_error: str | None
    responded_at: datetime | None
    completed_at: datetime | None
    reports: int
    team: str
    worker: str
    waiting_hours: float | None
    """Hours since the referral was sent (or made) for those still awaiting a reply."""


class ReferralCount(BaseModel):
    provider_id: str
    status: str
    referrals: int
    oldest_waiting_hours: float | None


def _referral_where(
    actor: Actor, args: list[object], provider: str | None, status: str | None, open_only: bool
) -> str:
    where = [case_scope(actor).sql("cs", args)]
    if provider is not None:
        args.append(provider)
        where.append(f"r.provider_id = ${len(args)}")
    if status is not None:
        args.append(status)
        where.append(f"r.status = ${len(args)}")
    if open_only:
        where.append("r.status NOT IN ('declined', 'completed')")
    return " AND ".join(where)


_WAITING = """CASE WHEN r.status IN ('made', 'sent', 'dispatch_failed')
      THEN extract(epoch FROM $1 - coalesce(r.dispatched_at, r.made_at))::float8 / 3600 END"""


async def referrals(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    provider: str | None = None,
    status: str | None = None,
    open_only: bool = False,
    now: datetime | None = None,
    limit: int = 500,
) -> list[Referral]:
    """Referrals, those waiting longest for a reply first."""
    args: list[object] = [_now(now), limit]
    where = _referral_where(actor, args, provider, status, open_only)
    rows = await pool.fetch(
        f"""SELECT r.case_id, r.referral_id, r.provider_id, r.service_id, r.goal_id, r.status,
                   r.made_by, r.made_at, r.dispatched_at, r.dispatch_attempts, r.dispatch_error,
                   r.responded_at, r.completed_at, r.reports, cs.team, cs.worker,
                   {_WAITING} AS waiting_hours
              FROM referrals r JOIN case_summary cs ON cs.case_id = r.case_id
             WHERE {where}
             ORDER BY waiting_hours DESC NULLS LAST, r.made_at, r.case_id, r.referral_id
             LIMIT $2""",
        *args,
    )
    return [Referral.model_validate(dict(r)) for r in rows]


async def referral_counts(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    provider: str | None = None,
    now: datetime | None = None,
) -> list[ReferralCount]:
    """Referrals by provider and status, with the longest wait for a reply."""
    args: list[object] = [_now(now)]
    where = _referral_where(actor, args, provider, None, False)
    rows = await pool.fetch(
        f"""SELECT r.provider_id, r.status, count(*) AS referrals,
                   max({_WAITING}) AS oldest_waiting_hours
              FROM referrals r JOIN case_summary cs ON cs.case_id = r.case_id
             WHERE {where}
             GROUP BY r.provider_id, r.status ORDER BY r.provider_id, r.status""",
        *args,
    )
    return [ReferralCount.model_validate(dict(r)) for r in rows]


# --- reviews and escalations ---------------------------------------------------------------


class ReviewDue(BaseModel):
    case_id: str
    client_ref: str
    worker: str
    team: str
    risk_level: str | None
    review_id: str | None
    due_on: date
    due_at: datetime
    grace_until: date | None
    status: str
    days_overdue: int
    """Days past the due date (negative: days left)."""
    overdue: bool
    """The due time has passed (reviews can be due within the day under a demo policy)."""


async def reviews(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    within_days: int = 14,
    overdue_only: bool = False,
    now: datetime | None = None,
    limit: int = 500,
) -> list[ReviewDue]:
    """Reviews overdue, then due within `within_days`, the most overdue first.

    Selected through `case_summary.next_review_due` (indexed per team and worker), which
    the review events of issue 4 keep equal to `case_reviews.due_on`.
    """
    moment = _now(now)
    horizon = moment if overdue_only else moment + timedelta(days=within_days)
    args: list[object] = [moment, horizon, limit]
    comparison = "<" if overdue_only else "<="
    rows = await pool.fetch(
        f"""SELECT rv.case_id, cs.client_ref, cs.worker, cs.team, cs.risk_level, rv.review_id,
                   rv.due_on, rv.due_at, rv.grace_until, rv.status,
                   ($1::timestamptz::date - rv.due_on) AS days_overdue,
                   rv.due_at < $1 AS overdue
              FROM case_summary cs JOIN case_reviews rv ON rv.case_id = cs.case_id
             WHERE cs.next_review_due {comparison} $2
               AND cs.status = 'open' AND {case_scope(actor).sql("cs", args)}
             ORDER BY cs.next_review_due, cs.case_id
             LIMIT $3""",
        *args,
    )
    return [ReviewDue.model_validate(dict(r)) for r in rows]


class OpenEscalation(BaseModel):
    case_id: str
    escalation_id: str
    subject: str | None
    subject_id: str | None
    level: int
    escalated_to: str | None
    reason: str
    raised_at: datetime
    open_hours: float
    worker: str
    team: str


async def escalations(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    level: int | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> list[OpenEscalation]:
    """Open escalations, highest level first, then oldest."""
    args: list[object] = [_now(now), limit]
    where = ["e.status = 'open'", case_scope(actor).sql("cs", args)]
    if level is not None:
        args.append(level)
        where.append(f"e.level = ${len(args)}")
    rows = await pool.fetch(
        f"""SELECT e.case_id, e.escalation_id, e.subject, e.subject_id, e.level, e.escalated_to,
                   e.reason, e.raised_at,
                   extract(epoch FROM $1 - e.raised_at)::float8 / 3600 AS open_hours,
                   cs.worker, cs.team
              FROM case_escalations e JOIN case_summary cs ON cs.case_id = e.case_id
             WHERE {" AND ".join(where)}
             ORDER BY e.level DESC, e.raised_at, e.case_id
             LIMIT $2""",
        *args,
    )
    return [OpenEscalation.model_validate(dict(r)) for r in rows]


# --- outcomes --------------------------------------------------------------------------------


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


# --- timeline --------------------------------------------------------------------------------


class TimelineEntry(BaseModel):
    stream_version: int
    event_id: UUID
    event_type: str
    actor_id: str
    actor_role: str
    occurred_at: datetime
    recorded_at: datetime
    description: str


async def timeline(
    pool: asyncpg.Pool,
    actor: Actor,
    case_id: str | UUID,
    *,
    after_version: int = 0,
    limit: int = 1000,
) -> list[TimelineEntry]:
    """The case's events in order, each with actor, role, time and a one-line description."""
    args: list[object] = [str(case_id)]
    where = case_scope(actor).sql("cs", args)
    visible = await pool.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM case_summary cs WHERE cs.case_id = $1 AND {where})", *args
    )
    if not visible:
        raise CaseNotVisible(str(case_id))
    rows = await pool.fetch(
        """SELECT stream_version, event_id, event_type, actor_id, actor_role, occurred_at,
                  recorded_at, description
             FROM case_timeline WHERE case_id = $1 AND stream_version > $2
            ORDER BY stream_version LIMIT $3""",
        str(case_id),
        after_version,
        limit,
    )
    return [TimelineEntry.model_validate(dict(r)) for r in rows]
