"""Read model `timeline` (table `case_timeline`): the readable audit trail of each case.

Table created by projections/migrations/0001_read_models.sql, section "projection
timeline"; granted in 0002_role_grants.sql; tests/projections/test_units.py checks
it exists after the migrations.

Every case event becomes one row with its actor, role, time and a one-line
description. Descriptions are built from codes, ids and counts only: never client
names or personal details, and never free text (notes, reasons, reports), which may
contain them; the full event stays in the log for those allowed to read it.

Queries: `timeline` (scoped, paged after a version) and `timeline_versions` (one
page of versions, for a read of the case already allowed: the case page).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from cases.actors import Actor
from cases.features import TIMELINE as FEATURE_LINES
from events.envelope import RecordedEvent
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionReassigned,
    ActionReminderDue,
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseConferenceRecorded,
    CaseNoteRecorded,
    CaseOnHold,
    CaseOpened,
    CaseReopened,
    CaseResumed,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberRemoved,
    CircleMemberUpdated,
    ClientForgotten,
    ConsentRecorded,
    ContactLogged,
    EscalationRaised,
    EscalationResolved,
    GoalOutcome,
    GoalProgressRecorded,
    GoalsEvaluated,
    Participants,
    PlanActivated,
    PlanDrafted,
    ProviderReportReceived,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDispatched,
    ReferralDispatchFailed,
    ReferralFollowUpDue,
    ReferralMade,
    ReviewDue,
    ReviewLapsed,
    ReviewScheduled,
    SharedWithCircleMember,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, on
from projections.scope import CaseNotVisible, case_scope

NAME = "timeline"
TABLES = ("case_timeline",)
MIGRATIONS = ("0001_read_models.sql",)
"""The migrations (projections/migrations/) that create TABLES."""

E = TypeVar("E", bound=DomainEvent)

Describe = Callable[[DomainEvent], str]


# --- descriptions ------------------------------------------------------------------------


def _words(code: str) -> str:
    return code.replace("_", " ")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _day(moment: datetime) -> str:
    """The date part of a time as the event wrote it (in its own offset)."""
    return moment.date().isoformat()


def _approval_subject(e: ApprovalRequested) -> str:
    if e.kind is ApprovalKind.PLAN and e.plan_id:
        return f"plan {e.plan_id} v{e.plan_version}"
    if e.kind is ApprovalKind.CLOSURE and e.closure_reason:
        return f"closure ({_words(e.closure_reason)})"
    return e.kind.value


def _goals_evaluated(e: GoalsEvaluated) -> str:
    outcomes = [evaluation.outcome for evaluation in e.evaluations]
    counts = ", ".join(
        f"{outcomes.count(o)} {_words(o)}"
        for o in (GoalOutcome.MET, GoalOutcome.PARTLY_MET, GoalOutcome.NOT_MET)
        if o in outcomes
    )
    return f"Goals evaluated ({counts}); next step: {_words(e.next_step)}"


def _made_with(participants: Participants) -> str:
    """Who else took part in a plan (ids only: staff and circle member ids)."""
    who = [*participants.staff, *participants.circle]
    return f", made with {', '.join(who)}" if who else ""


def _line(model: type[E], render: Callable[[E], str]) -> tuple[type[DomainEvent], Describe]:
    def describe(event: DomainEvent) -> str:
        if not isinstance(event, model):
            raise TypeError(f"{type(event).__name__} is not a {model.__name__}")
        return render(event)

    return model, describe


DESCRIBE: dict[type[DomainEvent], Describe] = dict(
    [
        _line(
            CaseOpened,
            lambda e: (
                f"Case opened for client {e.client_ref} ({_words(e.referral_source)}), "
                f"assigned to {e.assigned_worker} in team {e.team}"
            ),
        ),
        _line(
            ConsentRecorded,
            lambda e: (
                f"Consent recorded: {_plural(len(e.shared_fields), 'field')} may be shared "
                f"with {_plural(len(e.providers), 'provider')}"
            ),
        ),
        _line(
            AssessmentRecorded,
            lambda e: (
                f"{'Reassessment' if e.reassessment else 'Assessment'} {e.assessment_id} "
                f"recorded: risk {e.risk_level}, {_plural(len(e.domains), 'domain')} rated"
            ),
        ),
        _line(
            PlanDrafted,
            lambda e: (
                f"Plan {e.plan_id} v{e.plan_version} drafted with "
                f"{_plural(len(e.goals), 'goal')} (client "
                f"{'participated' if e.participation.participated else 'did not participate'}, "
                f"{'agreed' if e.participation.agreed else 'did not agree'})"
                + _made_with(e.participants)
            ),
        ),
        _line(
            ApprovalRequested,
            lambda e: f"Approval {e.approval_id} requested for {_approval_subject(e)}",
        ),
        _line(ApprovalGranted, lambda e: f"Approval {e.approval_id} ({e.kind}) granted"),
        _line(
            ApprovalReturned,
            lambda e: (
                f"Approval {e.approval_id} ({e.kind}) returned with "
                f"{_plural(len(e.reasons), 'reason')}"
            ),
        ),
        _line(PlanActivated, lambda e: f"Plan {e.plan_id} v{e.plan_version} activated"),
        _line(
            ReferralMade,
            lambda e: (
                f"Referral {e.referral_id} made to provider {e.provider_id} "
                f"(service {e.service_id}, goal {e.goal_id})"
            ),
        ),
        _line(
            ReferralDispatched,
            lambda e: f"Referral {e.referral_id} sent by {e.channel} (attempt {e.attempts})",
        ),
        _line(
            ReferralDispatchFailed,
            lambda e: f"Referral {e.referral_id} could not be sent (attempt {e.attempts})",
        ),
        _line(ReferralAccepted, lambda e: f"Referral {e.referral_id} accepted by the provider"),
        _line(ReferralDeclined, lambda e: f"Referral {e.referral_id} declined by the provider"),
        _line(ReferralCompleted, lambda e: f"Referral {e.referral_id} completed"),
        _line(
            ProviderReportReceived,
            lambda e: f"Provider report received for referral {e.referral_id}",
        ),
        _line(
            ContactLogged,
            lambda e: (
                f"{_words(e.kind).capitalize()} contact on {e.contact_date.isoformat()}"
                + (f" ({e.duration_minutes} min)" if e.duration_minutes else "")
            ),
        ),
        _line(
            GoalProgressRecorded,
            lambda e: f"Progress on goal {e.goal_id}: {_words(e.status)}",
        ),
        _line(GoalsEvaluated, _goals_evaluated),
        _line(CaseAssigned, lambda e: f"Case assigned to {e.worker} in team {e.team}"),
        _line(
            TransferRequested,
            lambda e: (
                f"Transfer {e.transfer_id} requested to team {e.to_team}"
                + (f" (worker {e.to_worker})" if e.to_worker else "")
            ),
        ),
        _line(
            TransferAccepted,
            lambda e: (
                f"Transfer {e.transfer_id} accepted: case now with {e.worker} in team {e.team}"
            ),
        ),
        _line(TransferRejected, lambda e: f"Transfer {e.transfer_id} rejected"),
        _line(CaseClosed, lambda e: f"Case closed: {_words(e.reason)}"),
        _line(CaseReopened, lambda e: "Case reopened"),
        _line(
            ReviewScheduled,
            lambda e: f"Review scheduled for {_day(e.due_at)} ({_words(e.reason)})",
        ),
        _line(ReviewDue, lambda e: f"Review due: a task for {e.assigned_worker}"),
        _line(
            ReviewLapsed,
            lambda e: (
                f"Review due {_day(e.due_at)} lapsed: grace period ended {_day(e.grace_ended_at)}"
            ),
        ),
        _line(
            EscalationRaised,
            lambda e: (
                f"Escalation {e.escalation_id} ({e.subject} {e.subject_id}) at level "
                f"{e.level}: {e.notify} of team {e.team} notified"
            ),
        ),
        _line(EscalationResolved, lambda e: f"Escalation {e.escalation_id} resolved"),
        _line(CaseOnHold, lambda e: f"Case on hold until {_day(e.until)}"),
        _line(CaseResumed, lambda e: "Case resumed"),
        _line(
            ReferralFollowUpDue,
            lambda e: (
                f"Referral {e.referral_id} needs a follow-up: no reply since "
                f"{_day(e.waiting_since)}"
            ),
        ),
        _line(CaseNoteRecorded, lambda e: f"Case note {e.note_id} recorded"),
        _line(
            CircleMemberAdded,
            lambda e: f"Circle of support: {e.member_id} added ({_words(e.role)})",
        ),
        _line(
            CircleMemberUpdated,
            lambda e: f"Circle of support: {e.member_id} updated ({_words(e.role)})",
        ),
        _line(CircleMemberRemoved, lambda e: f"Circle of support: {e.member_id} removed"),
        _line(
            CircleConsentRecorded,
            lambda e: (
                f"Consent to share with {e.member_id}: "
                + (", ".join(_words(s) for s in e.shared) if e.shared else "nothing")
            ),
        ),
        _line(
            SharedWithCircleMember,
            lambda e: f"Shared with {e.member_id}: " + ", ".join(_words(s) for s in e.items),
        ),
        _line(
            CaseConferenceRecorded,
            lambda e: (
                f"Case conference {e.conference_id} held {e.held_on.isoformat()}: "
                f"{_plural(len(e.participants.staff), 'staff member')}, "
                f"{_plural(len(e.participants.circle), 'circle member')}, client "
                f"{'attended' if e.client_attended else 'absent'}; "
                f"{_plural(len(e.decisions), 'decision')}, "
                f"{_plural(len(e.action_ids), 'action')} agreed"
            ),
        ),
        _line(
            ActionAdded,
            lambda e: (
                f"Action {e.action_id} added to goal {e.goal_id} for {e.owner.label()}, "
                f"due {e.due_at:%Y-%m-%d %H:%M}"
                + (" (crisis plan)" if e.crisis_plan else "")
                + (f", agreed at {e.conference_id}" if e.conference_id else "")
            ),
        ),
        _line(
            ActionCompleted,
            lambda e: f"Action {e.action_id} done" + (" (late)" if e.late else ""),
        ),
        _line(ActionDropped, lambda e: f"Action {e.action_id} dropped"),
        _line(
            ActionReassigned,
            lambda e: (
                f"Action {e.action_id} reassigned to {e.owner.label()}, "
                f"due {e.due_at:%Y-%m-%d %H:%M}"
            ),
        ),
        _line(
            ActionReminderDue,
            lambda e: f"Action {e.action_id} due {e.due_at:%Y-%m-%d %H:%M}: {e.worker} reminded",
        ),
        _line(
            ActionOverdue,
            lambda e: f"Action {e.action_id} overdue (due {e.due_at:%Y-%m-%d %H:%M})",
        ),
        _line(
            ClientForgotten,
            lambda e: f"Client {e.client_ref} forgotten: personal details erased",
        ),
    ]
)
"""One line per event type, by model (PolicyApplied is not a case event: no line)."""


def describe(event: DomainEvent) -> str:
    """One line about a decoded event, free of personal details."""
    render = DESCRIBE.get(type(event)) or FEATURE_LINES.get(type(event))
    if render is None:
        return event.type
    return render(event)


# --- handler -------------------------------------------------------------------------------


async def record(conn: asyncpg.Connection, event: DomainEvent, envelope: RecordedEvent) -> None:
    case_id = case_id_of(envelope)
    if case_id is None:
        return
    await conn.execute(
        """INSERT INTO case_timeline (case_id, stream_version, global_position, event_id,
               event_type, actor_id, actor_role, occurred_at, recorded_at, description)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        case_id,
        envelope.stream_version,
        envelope.global_position,
        envelope.event_id,
        envelope.event_type,
        envelope.metadata.actor_id,
        envelope.metadata.actor_role,
        envelope.occurred_at,
        envelope.recorded_at,
        describe(event),
    )


HANDLERS = handler_map(*(on(model, record) for model in (*DESCRIBE, *FEATURE_LINES)))
"""Every event with a line: the vocabulary's here, the features' in their slices."""

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),  # PolicyApplied: the `policy` stream, not a case
)


# --- query ---------------------------------------------------------------------------------


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
    """The case's events in order, each with actor, role, time and a one-line description.

    Asks `case_summary` (another projection, with its own checkpoint) whether the
    actor may see the case, then reads `case_timeline` alone: safe, because only the
    scope comes from case_summary and visibility has one source for every query
    (projections/scope.py, "Joining case_summary"). A case case_summary has not yet
    projected is "not visible" until it has, for the projector's lag.
    """
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


async def timeline_versions(
    pool: asyncpg.Pool, case_id: str | UUID, *, first: int, last: int
) -> list[TimelineEntry]:
    """The case's lines of stream versions `first` … `last`, the newest first: one page of
    its timeline, read through the primary key (case_id, stream_version) whatever the
    case's length.

    No scope check: only for a read of the case already allowed by the access table and
    recorded in the access log (the case page, application/case_view.py, whose access
    check locates the case by its workflow, not by `case_summary`). A version the read
    model has not (yet) recorded is simply absent: the caller fills it from the log.
    """
    rows = await pool.fetch(
        """SELECT stream_version, event_id, event_type, actor_id, actor_role, occurred_at,
                  recorded_at, description
             FROM case_timeline WHERE case_id = $1 AND stream_version BETWEEN $2 AND $3
            ORDER BY stream_version DESC""",
        str(case_id),
        first,
        last,
    )
    return [TimelineEntry.model_validate(dict(r)) for r in rows]
