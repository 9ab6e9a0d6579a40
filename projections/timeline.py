"""Read model `case_timeline`: the readable audit trail of each case.

Every case event becomes one row with its actor, role, time and a one-line
description. Descriptions are built from codes, ids and counts only: never client
names or personal details, and never free text (notes, reasons, reports), which may
contain them; the full event stays in the log for those allowed to read it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from events.envelope import RecordedEvent
from projections.base import Handler, Projection, case_id_of, data_of, ignoring_the_rest

NAME = "timeline"


def _words(code: str) -> str:
    return code.replace("_", " ")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _approval_subject(d: dict[str, Any]) -> str:
    if d.get("kind") == "plan" and d.get("plan_id"):
        return f"plan {d['plan_id']} v{d.get('plan_version')}"
    if d.get("kind") == "closure" and d.get("closure_reason"):
        return f"closure ({_words(d['closure_reason'])})"
    return str(d.get("kind", "approval"))


def _goals_evaluated(d: dict[str, Any]) -> str:
    outcomes = [e["outcome"] for e in d["evaluations"]]
    counts = ", ".join(
        f"{outcomes.count(o)} {_words(o)}"
        for o in ("met", "partly_met", "not_met")
        if o in outcomes
    )
    return f"Goals evaluated ({counts}); next step: {_words(d['next_step'])}"


DESCRIBE: dict[str, Callable[[dict[str, Any]], str]] = {
    "CaseOpened": lambda d: (
        f"Case opened for client {d['client_ref']} ({_words(d['referral_source'])}), "
        f"assigned to {d['assigned_worker']} in team {d['team']}"
    ),
    "ConsentRecorded": lambda d: (
        f"Consent recorded: {_plural(len(d.get('shared_fields', [])), 'field')} may be shared "
        f"with {_plural(len(d.get('providers', [])), 'provider')}"
    ),
    "AssessmentRecorded": lambda d: (
        f"{'Reassessment' if d.get('reassessment') else 'Assessment'} {d['assessment_id']} "
        f"recorded: risk {d['risk_level']}, {_plural(len(d['domains']), 'domain')} rated"
    ),
    "PlanDrafted": lambda d: (
        f"Plan {d['plan_id']} v{d['plan_version']} drafted with "
        f"{_plural(len(d['goals']), 'goal')} (client "
        f"{'participated' if d['participation']['participated'] else 'did not participate'}, "
        f"{'agreed' if d['participation']['agreed'] else 'did not agree'})"
    ),
    "ApprovalRequested": lambda d: (
        f"Approval {d['approval_id']} requested for {_approval_subject(d)}"
    ),
    "ApprovalGranted": lambda d: f"Approval {d['approval_id']} ({d['kind']}) granted",
    "ApprovalReturned": lambda d: (
        f"Approval {d['approval_id']} ({d['kind']}) returned with "
        f"{_plural(len(d['reasons']), 'reason')}"
    ),
    "PlanActivated": lambda d: f"Plan {d['plan_id']} v{d['plan_version']} activated",
    "ReferralMade": lambda d: (
        f"Referral {d['referral_id']} made to provider {d['provider_id']} "
        f"(service {d['service_id']}, goal {d['goal_id']})"
    ),
    "ReferralDispatched": lambda d: (
        f"Referral {d['referral_id']} sent by {d['channel']} (attempt {d['attempts']})"
    ),
    "ReferralDispatchFailed": lambda d: (
        f"Referral {d['referral_id']} could not be sent (attempt {d['attempts']})"
    ),
    "ReferralAccepted": lambda d: f"Referral {d['referral_id']} accepted by the provider",
    "ReferralDeclined": lambda d: f"Referral {d['referral_id']} declined by the provider",
    "ReferralCompleted": lambda d: f"Referral {d['referral_id']} completed",
    "ProviderReportReceived": lambda d: f"Provider report received for referral {d['referral_id']}",
    "ContactLogged": lambda d: (
        f"{_words(d['kind']).capitalize()} contact on {d['contact_date']}"
        + (f" ({d['duration_minutes']} min)" if d.get("duration_minutes") else "")
    ),
    "GoalProgressRecorded": lambda d: f"Progress on goal {d['goal_id']}: {_words(d['status'])}",
    "GoalsEvaluated": _goals_evaluated,
    "CaseAssigned": lambda d: f"Case assigned to {d['worker']} in team {d['team']}",
    "TransferRequested": lambda d: (
        f"Transfer {d['transfer_id']} requested to team {d['to_team']}"
        + (f" (worker {d['to_worker']})" if d.get("to_worker") else "")
    ),
    "TransferAccepted": lambda d: (
        f"Transfer {d['transfer_id']} accepted: case now with {d['worker']} in team {d['team']}"
    ),
    "TransferRejected": lambda d: f"Transfer {d['transfer_id']} rejected",
    "CaseClosed": lambda d: f"Case closed: {_words(d['reason'])}",
    "CaseReopened": lambda d: "Case reopened",
    "ReviewScheduled": lambda d: f"Review scheduled for {d['due_at'][:10]} ({_words(d['reason'])})",
    "ReviewDue": lambda d: f"Review due: a task for {d['assigned_worker']}",
    "ReviewLapsed": lambda d: (
        f"Review due {d['due_at'][:10]} lapsed: grace period ended {d['grace_ended_at'][:10]}"
    ),
    "EscalationRaised": lambda d: (
        f"Escalation {d['escalation_id']} ({d['subject']} {d['subject_id']}) at level "
        f"{d['level']}: {d['notify']} of team {d['team']} notified"
    ),
    "EscalationResolved": lambda d: f"Escalation {d['escalation_id']} resolved",
    "CaseOnHold": lambda d: f"Case on hold until {d['until'][:10]}",
    "CaseResumed": lambda d: "Case resumed",
    "ReferralFollowUpDue": lambda d: (
        f"Referral {d['referral_id']} needs a follow-up: no reply since {d['waiting_since'][:10]}"
    ),
    "ClientForgotten": lambda d: f"Client {d['client_ref']} forgotten: personal details erased",
}


def describe(event_type: str, data: dict[str, Any]) -> str:
    """One line about an event, free of personal details."""
    render = DESCRIBE.get(event_type)
    if render is None:
        return event_type
    return render(data)


async def record(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    case_id = case_id_of(event)
    if case_id is None:
        return
    await conn.execute(
        """INSERT INTO case_timeline (case_id, stream_version, global_position, event_id,
               event_type, actor_id, actor_role, occurred_at, recorded_at, description)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        case_id,
        event.stream_version,
        event.global_position,
        event.event_id,
        event.event_type,
        event.metadata.actor_id,
        event.metadata.actor_role,
        event.occurred_at,
        event.recorded_at,
        describe(event.event_type, data_of(event)),
    )


HANDLERS: dict[str, Handler] = dict.fromkeys(DESCRIBE, record)

PROJECTION = Projection(
    name=NAME,
    tables=("case_timeline",),
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),  # PolicyApplied: the `policy` stream, not a case
)
