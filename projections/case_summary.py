"""Read model `case_summary`: one row per case, the answer to "where is this case".

Columns: status, client reference (never the client's personal details), worker,
team, risk level, opened, next review due (fed by the review events of issue 4),
last contact, draft and active plan, open referrals, open escalations (issue 4).
The caseload is computed from this table by query (projections/queries.py).
"""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from events.envelope import RecordedEvent
from projections.base import DIRECTORY_EVENT_TYPES, Handler, Projection, data_of, event_types
from projections.base import case_id_of as _case_id

NAME = "case_summary"


async def _touch(conn: asyncpg.Connection, event: RecordedEvent, sets: str, *args: object) -> None:
    """UPDATE the case's row: `sets` uses $3… for args; $1 case id, $2 event time/version."""
    await conn.execute(
        f"""UPDATE case_summary SET {sets}, last_event_at = $2, stream_version = ${len(args) + 3}
             WHERE case_id = $1""",
        _case_id(event),
        event.occurred_at,
        *args,
        event.stream_version,
    )


async def case_opened(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await conn.execute(
        """INSERT INTO case_summary (case_id, status, client_ref, referral_source, worker, team,
               opened_at, last_event_at, stream_version)
           VALUES ($1, 'open', $2, $3, $4, $5, $6, $6, $7)""",
        _case_id(event),
        d["client_ref"],
        d["referral_source"],
        d["assigned_worker"],
        d["team"],
        event.occurred_at,
        event.stream_version,
    )


async def consent_recorded(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _touch(conn, event, "consent_recorded = true")


async def assessment_recorded(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await _touch(conn, event, "risk_level = $3, last_assessed_at = $2", d["risk_level"])


async def plan_drafted(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await _touch(
        conn,
        event,
        "plan_status = 'drafted', draft_plan_id = $3, draft_plan_version = $4",
        d["plan_id"],
        d["plan_version"],
    )


async def approval_requested(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    if d["kind"] == "plan":
        await _touch(
            conn, event, "pending_approval_kind = $3, plan_status = 'awaiting_approval'", "plan"
        )
    else:
        await _touch(conn, event, "pending_approval_kind = $3", d["kind"])


async def approval_granted(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _touch(conn, event, "pending_approval_kind = NULL")


async def approval_returned(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    if d["kind"] == "plan":
        await _touch(conn, event, "pending_approval_kind = NULL, plan_status = 'returned'")
    else:
        await _touch(conn, event, "pending_approval_kind = NULL")


async def plan_activated(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await _touch(
        conn,
        event,
        "plan_status = 'active', active_plan_id = $3, active_plan_version = $4",
        d["plan_id"],
        d["plan_version"],
    )


async def _recount_referrals(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _touch(
        conn,
        event,
        "open_referrals = (SELECT count(*) FROM case_summary_open_referrals r"
        " WHERE r.case_id = case_summary.case_id)",
    )


async def referral_made(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO case_summary_open_referrals (case_id, referral_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        _case_id(event),
        data_of(event)["referral_id"],
    )
    await _recount_referrals(conn, event)


async def referral_finished(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        "DELETE FROM case_summary_open_referrals WHERE case_id = $1 AND referral_id = $2",
        _case_id(event),
        data_of(event)["referral_id"],
    )
    await _recount_referrals(conn, event)


async def contact_logged(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await _touch(
        conn,
        event,
        "last_contact = greatest(last_contact, $3::date)",
        _date(d["contact_date"]),
    )


async def goals_evaluated(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _touch(conn, event, "last_evaluated_at = $2")


async def reassigned(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await _touch(conn, event, "worker = $3, team = $4", d["worker"], d["team"])


async def case_closed(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await _touch(
        conn,
        event,
        "status = 'closed', closed_at = $2, closure_reason = $3, pending_approval_kind = NULL,"
        " next_review_due = NULL",
        d["reason"],
    )


async def review_scheduled(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    due = datetime.fromisoformat(data_of(event)["due_at"])
    await _touch(conn, event, "next_review_due = $3", due)


async def on_hold(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    until = datetime.fromisoformat(data_of(event)["until"])
    await _touch(conn, event, "on_hold = true, on_hold_until = $3", until)


async def resumed(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _touch(conn, event, "on_hold = false, on_hold_until = NULL")


async def _recount_escalations(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _touch(
        conn,
        event,
        "open_escalations = (SELECT count(*) FROM case_summary_open_escalations e"
        " WHERE e.case_id = case_summary.case_id)",
    )


async def escalation_raised(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO case_summary_open_escalations (case_id, escalation_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        _case_id(event),
        data_of(event)["escalation_id"],
    )
    await _recount_escalations(conn, event)


async def escalation_resolved(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        "DELETE FROM case_summary_open_escalations WHERE case_id = $1 AND escalation_id = $2",
        _case_id(event),
        data_of(event)["escalation_id"],
    )
    await _recount_escalations(conn, event)


async def case_reopened(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _touch(conn, event, "status = 'open', closed_at = NULL, closure_reason = NULL")


def _date(value: str) -> date:
    return date.fromisoformat(value)


HANDLERS: dict[str, Handler] = {
    "CaseOpened": case_opened,
    "ConsentRecorded": consent_recorded,
    "AssessmentRecorded": assessment_recorded,
    "PlanDrafted": plan_drafted,
    "ApprovalRequested": approval_requested,
    "ApprovalGranted": approval_granted,
    "ApprovalReturned": approval_returned,
    "PlanActivated": plan_activated,
    "ReferralMade": referral_made,
    "ReferralDeclined": referral_finished,
    "ReferralCompleted": referral_finished,
    "ContactLogged": contact_logged,
    "GoalsEvaluated": goals_evaluated,
    "CaseAssigned": reassigned,
    "TransferAccepted": reassigned,
    "CaseClosed": case_closed,
    "CaseReopened": case_reopened,
    "ReviewScheduled": review_scheduled,
    "CaseOnHold": on_hold,
    "CaseResumed": resumed,
    "EscalationRaised": escalation_raised,
    "EscalationResolved": escalation_resolved,
}

PROJECTION = Projection(
    name=NAME,
    tables=("case_summary", "case_summary_open_referrals", "case_summary_open_escalations"),
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
    )
    | DIRECTORY_EVENT_TYPES,
)
