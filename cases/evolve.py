"""Folding events into a CaseState: the one place that says what each event means."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cases.features import FOLDS
from cases.state import (
    ActionStatus,
    AssessmentSummary,
    CaseState,
    CaseStatus,
    CircleMember,
    Conference,
    Consent,
    Escalation,
    FoldError,
    Hold,
    PendingApproval,
    PendingTransfer,
    PlanAction,
    PlanStatus,
    PlanVersion,
    Referral,
    ReferralStatus,
)
from events.catalog import default_registry
from events.envelope import RecordedEvent
from events.personal import erase_personal
from events.registry import DomainEvent, EventRegistry
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
    GoalProgressRecorded,
    GoalsEvaluated,
    GoalStatus,
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


def open_state(event: CaseOpened, actor_id: str, at: datetime) -> CaseState:
    return CaseState(
        case_id=event.case_id,
        stream_version=1,
        client_ref=event.client_ref,
        client=event.client,
        referral_source=event.referral_source,
        assigned_worker=event.assigned_worker,
        team=event.team,
        presenting_needs=list(event.presenting_needs),
        opened_at=at,
        opened_by=actor_id,
        review_base_at=at,
    )


def evolve(state: CaseState, event: DomainEvent, actor_id: str, at: datetime) -> CaseState:
    """Apply one event to `state` in place and return it (stream_version advances by one)."""
    state.stream_version += 1
    match event:
        case ConsentRecorded():
            state.consent = Consent(
                shared_fields=list(event.shared_fields),
                providers=list(event.providers),
                preferences=event.preferences,
                recorded_at=at,
            )
        case AssessmentRecorded():
            state.assessments.append(
                AssessmentSummary(
                    assessment_id=event.assessment_id,
                    reassessment=event.reassessment,
                    recorded_at=at,
                    recorded_by=actor_id,
                    risk_level=event.risk_level,
                    needs=list(event.needs),
                    client_priorities=list(event.client_priorities),
                )
            )
            state.risk_level = event.risk_level
            state.review_base_at = at
            state.review_due_raised = False
            state.review_lapsed_at = None
        case PlanDrafted():
            state.plan_versions = max(state.plan_versions, event.plan_version)
            state.draft_plan = PlanVersion(
                plan_id=event.plan_id,
                plan_version=event.plan_version,
                goals=list(event.goals),
                crisis_plan=event.crisis_plan,
                client_agreed=event.participation.agreed,
                drafted_by=actor_id,
                drafted_at=at,
                participants=event.participants,
            )
        case ApprovalRequested():
            state.approvals_requested += 1
            state.approvals[event.approval_id] = PendingApproval(
                approval_id=event.approval_id,
                kind=event.kind,
                requested_by=actor_id,
                requested_at=at,
                plan_id=event.plan_id,
                plan_version=event.plan_version,
                closure_reason=event.closure_reason,
            )
            if event.kind is ApprovalKind.PLAN and state.draft_plan is not None:
                state.draft_plan.status = PlanStatus.SUBMITTED
                state.draft_plan.submitted_by = actor_id
        case ApprovalGranted():
            _take_approval(state, event.approval_id)
        case ApprovalReturned():
            approval = _take_approval(state, event.approval_id)
            if approval.kind is ApprovalKind.PLAN and state.draft_plan is not None:
                state.draft_plan.status = PlanStatus.RETURNED
                state.draft_plan.returned_reasons = list(event.reasons)
        case PlanActivated():
            plan = state.draft_plan
            if plan is None or plan.plan_version != event.plan_version:
                raise FoldError(f"PlanActivated for v{event.plan_version} without that draft")
            plan.status = PlanStatus.APPROVED
            state.active_plan = plan
            state.draft_plan = None
            for goal in plan.goals:
                state.goal_progress.setdefault(goal.goal_id, GoalStatus.NOT_STARTED)
        case ReferralMade():
            state.referrals[event.referral_id] = Referral(
                referral_id=event.referral_id,
                provider_id=event.provider_id,
                service_id=event.service_id,
                goal_id=event.goal_id,
                shared_fields=list(event.shared_fields),
                status=ReferralStatus.MADE,
                made_at=at,
                made_by=actor_id,
                updated_at=at,
            )
        case ReferralDispatched():
            referral = _referral(state, event.referral_id, at)
            referral.dispatch_attempts = event.attempts
            if referral.status in (ReferralStatus.MADE, ReferralStatus.DISPATCH_FAILED):
                referral.status = ReferralStatus.DISPATCHED
        case ReferralDispatchFailed():
            referral = _referral(state, event.referral_id, at)
            referral.dispatch_attempts = event.attempts
            referral.status = ReferralStatus.DISPATCH_FAILED
            referral.reason = event.error
        case ReferralAccepted():
            _referral(state, event.referral_id, at).status = ReferralStatus.ACCEPTED
        case ReferralDeclined():
            referral = _referral(state, event.referral_id, at)
            referral.status = ReferralStatus.DECLINED
            referral.reason = event.reason
        case ReferralCompleted():
            _referral(state, event.referral_id, at).status = ReferralStatus.COMPLETED
        case ProviderReportReceived():
            _referral(state, event.referral_id, at)
        case ReferralFollowUpDue():
            _referral(state, event.referral_id, at).followed_up = True
        case ContactLogged():
            state.contacts += 1
            if state.last_contact is None or event.contact_date >= state.last_contact:
                state.last_contact = event.contact_date
                state.last_contact_kind = event.kind
        case GoalProgressRecorded():
            state.goal_progress[event.goal_id] = event.status
        case GoalsEvaluated():
            state.evaluations += 1
            for evaluation in event.evaluations:
                state.goal_outcomes[evaluation.goal_id] = evaluation.outcome
        case CaseAssigned():
            state.assigned_worker = event.worker
            state.team = event.team
        case TransferRequested():
            state.transfers_requested += 1
            state.pending_transfer = PendingTransfer(
                transfer_id=event.transfer_id,
                to_worker=event.to_worker,
                to_team=event.to_team,
                reason=event.reason,
                requested_by=actor_id,
                requested_at=at,
            )
        case TransferAccepted():
            state.assigned_worker = event.worker
            state.team = event.team
            state.pending_transfer = None
        case TransferRejected():
            state.pending_transfer = None
        case CaseClosed():
            state.status = CaseStatus.CLOSED
            state.closed_at = at
            state.closure_reason = event.reason
            state.approvals = {}
            state.pending_transfer = None
            state.next_review_due = None
            state.hold = None
        case CaseReopened():
            state.status = CaseStatus.OPEN
            state.closed_at = None
            state.closure_reason = None
            state.reopened += 1
            state.review_base_at = at
            state.review_due_raised = False
            state.review_lapsed_at = None
        case ReviewScheduled():
            state.next_review_due = event.due_at
            state.reviews_scheduled += 1
            state.review_due_raised = False
            state.review_lapsed_at = None
        case ReviewDue():
            state.review_due_raised = True
        case ReviewLapsed():
            state.review_lapsed_at = at
        case EscalationRaised():
            current = state.escalations.get(event.escalation_id)
            if current is None:
                state.escalations_raised += 1
                state.escalated_subjects.append(f"{event.subject}:{event.subject_id}")
                state.escalations[event.escalation_id] = Escalation(
                    escalation_id=event.escalation_id,
                    subject=event.subject,
                    subject_id=event.subject_id,
                    level=event.level,
                    notify=event.notify,
                    reason=event.reason,
                    raised_at=at,
                    level_raised_at=at,
                )
            else:
                current.level = event.level
                current.notify = event.notify
                current.level_raised_at = at
        case EscalationResolved():
            if state.escalations.pop(event.escalation_id, None) is None:
                raise FoldError(f"no open escalation {event.escalation_id}")
        case CaseOnHold():
            state.hold = Hold(reason=event.reason, since=at, until=event.until)
            state.next_review_due = None
        case CaseResumed():
            if state.hold is not None:
                _pause_advocacy(state, state.hold.since, at)
            if state.hold is not None and state.review_base_at is not None:
                state.review_base_at += at - state.hold.since
            state.hold = None
        case CaseNoteRecorded():
            state.notes += 1
        case (
            CircleMemberAdded()
            | CircleMemberUpdated()
            | CircleMemberRemoved()
            | CircleConsentRecorded()
            | SharedWithCircleMember()
            | CaseConferenceRecorded()
        ):
            _evolve_circle(state, event, actor_id, at)
        case ActionAdded():
            state.actions_added += 1
            state.actions[event.action_id] = PlanAction(
                action_id=event.action_id,
                goal_id=event.goal_id,
                description=event.description,
                owner=event.owner,
                due_at=event.due_at,
                crisis_plan=event.crisis_plan,
                conference_id=event.conference_id,
                added_at=at,
                added_by=actor_id,
            )
        case ActionCompleted():
            action = _plan_action(state, event.action_id)
            action.status = ActionStatus.DONE
            action.closed_at = at
            action.late = event.late
        case ActionDropped():
            action = _plan_action(state, event.action_id)
            action.status = ActionStatus.DROPPED
            action.closed_at = at
            action.drop_reason = event.reason
        case ActionReassigned():
            action = _plan_action(state, event.action_id)
            action.owner = event.owner
            if event.due_at != action.due_at:
                action.due_at = event.due_at
                action.reminded = False
                if action.status is ActionStatus.OVERDUE and event.due_at > at:
                    action.status = ActionStatus.OPEN
                    action.overdue_at = None
        case ActionReminderDue():
            _plan_action(state, event.action_id).reminded = True
        case ActionOverdue():
            action = _plan_action(state, event.action_id)
            action.status = ActionStatus.OVERDUE
            action.overdue_at = at
            action.reminded = True
        case ClientForgotten():
            erased = erase_personal(state)
            for name in type(state).model_fields:
                setattr(state, name, getattr(erased, name))
            state.forgotten = True
            state.forgotten_at = at
        case CaseOpened():
            raise FoldError("CaseOpened can only start a case")
        case _:
            fold = FOLDS.get(type(event))  # a feature's event (cases/features/)
            if fold is None:
                raise FoldError(f"a case cannot apply {event.type}")
            fold(state, event, actor_id, at)
    return state


def _plan_action(state: CaseState, action_id: str) -> PlanAction:
    try:
        return state.actions[action_id]
    except KeyError:
        raise FoldError(f"no action {action_id}") from None


def _evolve_circle(state: CaseState, event: DomainEvent, actor_id: str, at: datetime) -> None:
    """The circle of support and case conferences (cases/circle.py)."""
    match event:
        case CircleMemberAdded():
            state.circle[event.member_id] = CircleMember(
                member_id=event.member_id,
                role=event.role,
                details=event.details,
                added_at=at,
                added_by=actor_id,
            )
        case CircleMemberUpdated():
            member = _circle_member(state, event.member_id)
            member.role = event.role
            member.details = event.details
        case CircleMemberRemoved():
            member = _circle_member(state, event.member_id)
            member.removed_at = at
            member.removed_reason = event.reason
        case CircleConsentRecorded():
            member = _circle_member(state, event.member_id)
            member.consent = list(event.shared)
            member.consent_recorded_at = at
        case SharedWithCircleMember():
            _circle_member(state, event.member_id).shared += 1
        case CaseConferenceRecorded():
            state.conferences[event.conference_id] = Conference(
                conference_id=event.conference_id,
                held_on=event.held_on,
                client_attended=event.client_attended,
                participants=event.participants,
                decisions=list(event.decisions),
                action_ids=list(event.action_ids),
                recorded_at=at,
                recorded_by=actor_id,
            )


def _circle_member(state: CaseState, member_id: str) -> CircleMember:
    try:
        return state.circle[member_id]
    except KeyError:
        raise FoldError(f"no circle member {member_id}") from None


def _take_approval(state: CaseState, approval_id: str) -> PendingApproval:
    try:
        return state.approvals.pop(approval_id)
    except KeyError:
        raise FoldError(f"no pending approval {approval_id}") from None


def _pause_advocacy(state: CaseState, since: datetime, until: datetime) -> None:
    """A hold pauses each open advocacy's follow-up: what was left of it runs on after."""
    for advocacy in state.advocacy.values():
        if advocacy.is_open and not advocacy.followed_up and advocacy.follow_up_at > since:
            advocacy.follow_up_at += until - since


def _referral(state: CaseState, referral_id: str, at: datetime) -> Referral:
    try:
        referral = state.referrals[referral_id]
    except KeyError:
        raise FoldError(f"no referral {referral_id}") from None
    referral.updated_at = at
    return referral


def fold(events: Iterable[RecordedEvent], registry: EventRegistry | None = None) -> CaseState:
    """Rebuild a case from its stream, in version order."""
    registry = registry or default_registry()
    state: CaseState | None = None
    for recorded in events:
        event = registry.decode(recorded.event_type, recorded.schema_version, recorded.data)
        actor = recorded.metadata.actor_id
        if state is None:
            if not isinstance(event, CaseOpened):
                raise FoldError(f"stream starts with {event.type}, not CaseOpened")
            state = open_state(event, actor, recorded.occurred_at)
        else:
            evolve(state, event, actor, recorded.occurred_at)
        if state.stream_version != recorded.stream_version:
            raise FoldError(f"version {recorded.stream_version} folded as {state.stream_version}")
    if state is None:
        raise FoldError("empty stream")
    return state
