"""The audit trail's lines as projections/timeline.py and the features' slices wrote
them before the lines became messages (issue 33): the reference the English rendering
of `projections.timeline.said` must equal byte for byte (rows already stored hold it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from cases.features.documents import KIND_NAMES
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionReassigned,
    ActionReminderDue,
    AdvocacyConcluded,
    AdvocacyFollowUpDue,
    AdvocacyOpened,
    AdvocacyStepRecorded,
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
    ClientFeedbackRecorded,
    ClientForgotten,
    ClientLanguageRecorded,
    ClientMatchesReviewed,
    ConsentRecorded,
    ContactLogged,
    DocumentAttached,
    DocumentWithdrawn,
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
    ReferralWithdrawn,
    ReviewDue,
    ReviewLapsed,
    ReviewScheduled,
    SharedWithCircleMember,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)

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


def _opened_line(e: AdvocacyOpened) -> str:
    return (
        f"Advocacy {e.advocacy_id} opened with {e.organisation}: {_words(e.barrier)}, "
        f"{_words(e.action)} (consent: {e.consent_by}); next step due "
        f"{e.next_step_date.isoformat()}"
    )


def _step_line(e: AdvocacyStepRecorded) -> str:
    return (
        f"Advocacy {e.advocacy_id} step {e.step}: {_words(e.action)}; next step due "
        f"{e.next_step_date.isoformat()}"
    )


def _concluded_line(e: AdvocacyConcluded) -> str:
    return f"Advocacy {e.advocacy_id} concluded: {_words(e.outcome)}"


def _follow_up_line(e: AdvocacyFollowUpDue) -> str:
    return (
        f"Advocacy {e.advocacy_id} needs a follow-up: step {e.step} was due "
        f"{e.next_step_date.isoformat()}"
    )


def size_text(size: int) -> str:
    """A size as people read it: 980 bytes, 12.3 KB, 4.5 MB (powers of 1,000)."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


def _attached_line(event: DocumentAttached) -> str:
    return (
        f"Document {event.document_id} attached ({KIND_NAMES[event.kind]}, "
        f"{event.media_type}, {size_text(event.size)})"
    )


def _feedback_line(e: ClientFeedbackRecorded) -> str:
    """Ids, the subject, the rating and the agreement: never the client's words."""
    about = f"the {e.subject}"
    if e.referral_id:
        about += f" {e.referral_id}"
    if e.provider_id:
        about += f" ({e.provider_id}/{e.service_id})"
    if e.plan_version:
        about += f" v{e.plan_version}"
    agrees = {None: "", True: "; agrees with it", False: "; does not agree with it"}
    return (
        f"Client feedback {e.feedback_id} on {about}: rated {e.rating}/5"
        + agrees[e.agrees_with_plan]
    )


def _intake_line(event: ClientMatchesReviewed) -> str:
    shown = ", ".join(event.candidates) or "none"
    hidden = f"; {event.hidden} more outside the worker's scope" if event.hidden else ""
    return (
        f"Possible duplicates reviewed at intake (shown: {shown}{hidden}); a new client confirmed"
    )


FEATURE_LINES: dict[type[DomainEvent], Callable[[Any], str]] = {
    AdvocacyOpened: _opened_line,
    AdvocacyStepRecorded: _step_line,
    AdvocacyConcluded: _concluded_line,
    AdvocacyFollowUpDue: _follow_up_line,
    ClientLanguageRecorded: lambda e: "Client's language and interpreter need recorded",
    DocumentAttached: _attached_line,
    DocumentWithdrawn: lambda e: f"Document {e.document_id} withdrawn",
    ClientFeedbackRecorded: _feedback_line,
    ClientMatchesReviewed: _intake_line,
    ReferralWithdrawn: lambda e: f"Referral {e.referral_id} withdrawn",
}


def describe(event: DomainEvent) -> str:
    """The line as it was written before issue 33."""
    render = DESCRIBE.get(type(event)) or FEATURE_LINES.get(type(event))
    if render is None:
        return event.type
    return render(event)
