"""Read model `case_summary`: one row per case, the answer to "where is this case".

Tables (created by projections/migrations/0001_read_models.sql, section "projection
case_summary"; granted in 0002_role_grants.sql; tests/projections/test_units.py
checks they exist after the migrations):

* `case_summary` — status, client reference (never the client's personal details),
  worker, team, risk level, opened, next review due (fed by the review events of
  issue 4), last contact, draft and active plan, pending approval, open referrals,
  open escalations, hold, evaluation and closure;
* `case_summary_open_referrals`, `case_summary_open_escalations` — the referrals and
  escalations of each case still open, counted into `open_referrals` and
  `open_escalations`.

Queries: `case_summary` (one case) and `caseload` (open cases per worker or team).
This table is also the visibility source of every other read model's queries
(projections/scope.py).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import (
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseOnHold,
    CaseOpened,
    CaseReopened,
    CaseResumed,
    ConsentRecorded,
    ContactLogged,
    EscalationRaised,
    EscalationResolved,
    GoalsEvaluated,
    PlanActivated,
    PlanDrafted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralMade,
    ReferralWithdrawn,
    ReviewScheduled,
    TransferAccepted,
)
from projections.base import (
    DIRECTORY_EVENT_TYPES,
    Projection,
    event_types,
    handler_map,
    moment,
    on,
    today,
)
from projections.base import case_id_of as _case_id
from projections.scope import CaseNotVisible, case_scope

NAME = "case_summary"
TABLES = ("case_summary", "case_summary_open_referrals", "case_summary_open_escalations")
MIGRATIONS = ("0001_read_models.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


# --- handlers ----------------------------------------------------------------------------


async def _touch(
    conn: asyncpg.Connection, envelope: RecordedEvent, sets: str, *args: object
) -> None:
    """UPDATE the case's row: `sets` uses $3… for args; $1 case id, $2 event time/version."""
    await conn.execute(
        f"""UPDATE case_summary SET {sets}, last_event_at = $2, stream_version = ${len(args) + 3}
             WHERE case_id = $1""",
        _case_id(envelope),
        envelope.occurred_at,
        *args,
        envelope.stream_version,
    )


async def case_opened(conn: asyncpg.Connection, event: CaseOpened, envelope: RecordedEvent) -> None:
    await conn.execute(
        """INSERT INTO case_summary (case_id, status, client_ref, referral_source, worker, team,
               opened_at, last_event_at, stream_version)
           VALUES ($1, 'open', $2, $3, $4, $5, $6, $6, $7)""",
        _case_id(envelope),
        event.client_ref,
        event.referral_source.value,
        event.assigned_worker,
        event.team,
        envelope.occurred_at,
        envelope.stream_version,
    )


async def consent_recorded(
    conn: asyncpg.Connection, event: ConsentRecorded, envelope: RecordedEvent
) -> None:
    await _touch(conn, envelope, "consent_recorded = true")


async def assessment_recorded(
    conn: asyncpg.Connection, event: AssessmentRecorded, envelope: RecordedEvent
) -> None:
    await _touch(conn, envelope, "risk_level = $3, last_assessed_at = $2", event.risk_level.value)


async def plan_drafted(
    conn: asyncpg.Connection, event: PlanDrafted, envelope: RecordedEvent
) -> None:
    await _touch(
        conn,
        envelope,
        "plan_status = 'drafted', draft_plan_id = $3, draft_plan_version = $4",
        event.plan_id,
        event.plan_version,
    )


async def approval_requested(
    conn: asyncpg.Connection, event: ApprovalRequested, envelope: RecordedEvent
) -> None:
    if event.kind is ApprovalKind.PLAN:
        await _touch(
            conn, envelope, "pending_approval_kind = $3, plan_status = 'awaiting_approval'", "plan"
        )
    else:
        await _touch(conn, envelope, "pending_approval_kind = $3", event.kind.value)


async def approval_granted(
    conn: asyncpg.Connection, event: ApprovalGranted, envelope: RecordedEvent
) -> None:
    await _touch(conn, envelope, "pending_approval_kind = NULL")


async def approval_returned(
    conn: asyncpg.Connection, event: ApprovalReturned, envelope: RecordedEvent
) -> None:
    if event.kind is ApprovalKind.PLAN:
        await _touch(conn, envelope, "pending_approval_kind = NULL, plan_status = 'returned'")
    else:
        await _touch(conn, envelope, "pending_approval_kind = NULL")


async def plan_activated(
    conn: asyncpg.Connection, event: PlanActivated, envelope: RecordedEvent
) -> None:
    await _touch(
        conn,
        envelope,
        "plan_status = 'active', active_plan_id = $3, active_plan_version = $4",
        event.plan_id,
        event.plan_version,
    )


async def _recount_referrals(conn: asyncpg.Connection, envelope: RecordedEvent) -> None:
    await _touch(
        conn,
        envelope,
        "open_referrals = (SELECT count(*) FROM case_summary_open_referrals r"
        " WHERE r.case_id = case_summary.case_id)",
    )


async def referral_made(
    conn: asyncpg.Connection, event: ReferralMade, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "INSERT INTO case_summary_open_referrals (case_id, referral_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        _case_id(envelope),
        event.referral_id,
    )
    await _recount_referrals(conn, envelope)


async def referral_finished(
    conn: asyncpg.Connection,
    event: ReferralDeclined | ReferralCompleted | ReferralWithdrawn,
    envelope: RecordedEvent,
) -> None:
    await conn.execute(
        "DELETE FROM case_summary_open_referrals WHERE case_id = $1 AND referral_id = $2",
        _case_id(envelope),
        event.referral_id,
    )
    await _recount_referrals(conn, envelope)


async def contact_logged(
    conn: asyncpg.Connection, event: ContactLogged, envelope: RecordedEvent
) -> None:
    await _touch(
        conn, envelope, "last_contact = greatest(last_contact, $3::date)", event.contact_date
    )


async def goals_evaluated(
    conn: asyncpg.Connection, event: GoalsEvaluated, envelope: RecordedEvent
) -> None:
    await _touch(conn, envelope, "last_evaluated_at = $2")


async def reassigned(
    conn: asyncpg.Connection, event: CaseAssigned | TransferAccepted, envelope: RecordedEvent
) -> None:
    await _touch(conn, envelope, "worker = $3, team = $4", event.worker, event.team)


async def case_closed(conn: asyncpg.Connection, event: CaseClosed, envelope: RecordedEvent) -> None:
    await _touch(
        conn,
        envelope,
        "status = 'closed', closed_at = $2, closure_reason = $3, pending_approval_kind = NULL,"
        " next_review_due = NULL",
        event.reason.value,
    )


async def review_scheduled(
    conn: asyncpg.Connection, event: ReviewScheduled, envelope: RecordedEvent
) -> None:
    await _touch(conn, envelope, "next_review_due = $3", event.due_at)


async def on_hold(conn: asyncpg.Connection, event: CaseOnHold, envelope: RecordedEvent) -> None:
    await _touch(conn, envelope, "on_hold = true, on_hold_until = $3", event.until)


async def resumed(conn: asyncpg.Connection, event: CaseResumed, envelope: RecordedEvent) -> None:
    await _touch(conn, envelope, "on_hold = false, on_hold_until = NULL")


async def _recount_escalations(conn: asyncpg.Connection, envelope: RecordedEvent) -> None:
    await _touch(
        conn,
        envelope,
        "open_escalations = (SELECT count(*) FROM case_summary_open_escalations e"
        " WHERE e.case_id = case_summary.case_id)",
    )


async def escalation_raised(
    conn: asyncpg.Connection, event: EscalationRaised, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "INSERT INTO case_summary_open_escalations (case_id, escalation_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        _case_id(envelope),
        event.escalation_id,
    )
    await _recount_escalations(conn, envelope)


async def escalation_resolved(
    conn: asyncpg.Connection, event: EscalationResolved, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "DELETE FROM case_summary_open_escalations WHERE case_id = $1 AND escalation_id = $2",
        _case_id(envelope),
        event.escalation_id,
    )
    await _recount_escalations(conn, envelope)


async def case_reopened(
    conn: asyncpg.Connection, event: CaseReopened, envelope: RecordedEvent
) -> None:
    await _touch(conn, envelope, "status = 'open', closed_at = NULL, closure_reason = NULL")


HANDLERS = handler_map(
    on(CaseOpened, case_opened),
    on(ConsentRecorded, consent_recorded),
    on(AssessmentRecorded, assessment_recorded),
    on(PlanDrafted, plan_drafted),
    on(ApprovalRequested, approval_requested),
    on(ApprovalGranted, approval_granted),
    on(ApprovalReturned, approval_returned),
    on(PlanActivated, plan_activated),
    on(ReferralMade, referral_made),
    on(ReferralDeclined, referral_finished),
    on(ReferralCompleted, referral_finished),
    on(ReferralWithdrawn, referral_finished),
    on(ContactLogged, contact_logged),
    on(GoalsEvaluated, goals_evaluated),
    on(CaseAssigned, reassigned),
    on(TransferAccepted, reassigned),
    on(CaseClosed, case_closed),
    on(CaseReopened, case_reopened),
    on(ReviewScheduled, review_scheduled),
    on(CaseOnHold, on_hold),
    on(CaseResumed, resumed),
    on(EscalationRaised, escalation_raised),
    on(EscalationResolved, escalation_resolved),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=event_types(
        "GoalProgressRecorded",
        "ProviderReportReceived",
        "ReferralAccepted",
        "ReferralDispatched",
        "ReferralDispatchFailed",
        "ReferralFollowUpDue",
        "TransferRequested",
        "TransferRejected",
        "ReviewDue",
        "ReviewLapsed",
        "PolicyApplied",
        "ClientForgotten",
        "CaseNoteRecorded",
        "CircleMemberAdded",
        "CircleMemberUpdated",
        "CircleMemberRemoved",
        "CircleConsentRecorded",
        "SharedWithCircleMember",
        "CaseConferenceRecorded",
        "AdvocacyOpened",
        "AdvocacyStepRecorded",
        "AdvocacyConcluded",
        "AdvocacyFollowUpDue",
        "ClientFeedbackRecorded",
        "ActionAdded",
        "ActionCompleted",
        "ActionDropped",
        "ActionReassigned",
        "ActionReminderDue",
        "ActionOverdue",
        "DocumentAttached",
        "DocumentWithdrawn",
        "ClientMatchesReviewed",
        "ClientLanguageRecorded",
    )
    | DIRECTORY_EVENT_TYPES,
)


# --- queries -------------------------------------------------------------------------------

RISK_LEVELS = ("low", "medium", "high", "crisis")


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
    """One case's summary (CaseNotVisible if it is not there or not the actor's to see).

    Reads `case_summary` alone."""
    args: list[object] = [str(case_id)]
    where = case_scope(actor).sql("cs", args)
    row = await pool.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS} FROM case_summary cs WHERE cs.case_id = $1 AND {where}",
        *args,
    )
    if row is None:
        raise CaseNotVisible(str(case_id))
    return CaseSummary.model_validate(dict(row))


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
    limit: int | None = None,
    after: tuple[str, str] | tuple[str] | None = None,
) -> list[Caseload]:
    """Open cases per worker (`by="worker"`) or per team (`by="team"`), visible ones only,
    by team then worker: at most `limit` rows, those after the key `after` ((team,
    worker), or (team,) by team).

    Reads `case_summary` alone (overdue reviews from its own `next_review_due`)."""
    if by not in ("worker", "team"):
        raise ValueError("by: 'worker' or 'team'")
    args: list[object] = [today(now), moment(now)]
    where = ["cs.status = 'open'", case_scope(actor).sql("cs", args)]
    if worker is not None:
        args.append(worker)
        where.append(f"cs.worker = ${len(args)}")
    if team is not None:
        args.append(team)
        where.append(f"cs.team = ${len(args)}")
    group = "cs.team, cs.worker" if by == "worker" else "cs.team"
    if after is not None:
        args.extend(after)
        places = ", ".join(f"${n}" for n in range(len(args) - len(after) + 1, len(args) + 1))
        where.append(f"({group}) > ({places})" if len(after) > 1 else f"{group} > {places}")
    args.append(limit)
    rows = await pool.fetch(
        f"{_caseload_select(group)} WHERE {' AND '.join(where)} GROUP BY {group} "
        f"ORDER BY {group} LIMIT ${len(args)}",
        *args,
    )
    return [_caseload_row(r, by == "worker") for r in rows]


async def open_cases(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    risk_level: str | None = None,
    limit: int = 500,
) -> list[CaseSummary]:
    """The open cases the actor sees, one row each (the staff console's caseload), the
    soonest review first. Reads `case_summary` alone."""
    args: list[object] = [limit]
    where = ["cs.status = 'open'", case_scope(actor).sql("cs", args)]
    if risk_level is not None:
        args.append(risk_level)
        where.append(f"cs.risk_level = ${len(args)}")
    rows = await pool.fetch(
        f"""SELECT {_SUMMARY_COLUMNS} FROM case_summary cs WHERE {" AND ".join(where)}
             ORDER BY cs.next_review_due NULLS LAST, cs.case_id LIMIT $1""",
        *args,
    )
    return [CaseSummary.model_validate(dict(r)) for r in rows]
