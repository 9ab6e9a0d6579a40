"""The rules: given a case's state and a command, the events it yields or why not.

Every function is pure. It raises `CommandRejected` with a reason a person can act
on, or returns the events to append. Ids inside events (approval-3, referral-2, …)
are derived from the state, so deciding twice on the same state gives the same
events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cases import commands as c
from cases.access import approval_refusal_on
from cases.actors import Actor, Role
from cases.permissions import Action, NotPermitted, check, check_case
from cases.scoring import Score
from cases.state import (
    OPEN_REFERRAL_STATUSES,
    CaseState,
    PlanStatus,
    ReferralStatus,
)
from events.personal import recorded_personal_fields
from events.registry import DomainEvent
from events.vocabulary import (
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseNoteRecorded,
    CaseOnHold,
    CaseOpened,
    CaseReopened,
    CaseResumed,
    ClientForgotten,
    ClientMatchesReviewed,
    ConsentRecorded,
    ContactLogged,
    GoalProgressRecorded,
    GoalsEvaluated,
    Participants,
    PlanActivated,
    PlanDrafted,
    ProviderReportReceived,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralMade,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)


class CommandRejected(ValueError):
    """A command the case refuses; nothing is written."""


class VersionConflict(CommandRejected):
    """The case moved on since the version the sender saw (a lost update, prevented)."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"expected_version: the case is at version {current}, not {expected}: "
            "it changed since you read it"
        )
        self.expected = expected
        self.current = current


def check_version(state: CaseState, cmd: c.Command) -> None:
    """Refuse a command sent for another version of the case than the current one."""
    if cmd.expected_version is not None and cmd.expected_version != state.stream_version:
        raise VersionConflict(cmd.expected_version, state.stream_version)


def _permit(state: CaseState, actor: Actor, action: Action) -> None:
    try:
        check_case(actor, action, state)
    except NotPermitted as exc:
        raise CommandRejected(str(exc)) from None


def _require_open(state: CaseState, what: str) -> None:
    if not state.is_open:
        raise CommandRejected(f"the case is closed: {what} needs an open case (reopen it first)")


def permit_open(state: CaseState, cmd: c.Command, action: Action, what: str) -> None:
    """Refuse `what` unless the case is open and the command's actor may do `action`."""
    _require_open(state, what)
    _permit(state, cmd.actor, action)


def _work(state: CaseState, cmd: c.Command, what: str) -> None:
    permit_open(state, cmd, Action.WORK, what)


# --- opening ---------------------------------------------------------------------------


def decide_open(cmd: c.OpenCase) -> list[DomainEvent]:
    team = cmd.assignee.team
    if cmd.assignee.role not in (Role.CASEWORKER, Role.SUPERVISOR) or team is None:
        raise CommandRejected(
            f"assignee: {cmd.assignee.staff_id} is a {cmd.assignee.role}; "
            "cases are assigned to a caseworker or supervisor of a team"
        )
    try:
        check(cmd.actor, Action.OPEN, team=team, assigned_worker=cmd.assignee.staff_id)
    except NotPermitted as exc:
        raise CommandRejected(str(exc)) from None
    opened: list[DomainEvent] = [
        CaseOpened(
            case_id=cmd.case_id,
            client_ref=cmd.client_ref,
            client=cmd.client,
            referral_source=cmd.referral_source,
            referring_agency=cmd.referring_agency,
            assigned_worker=cmd.assignee.staff_id,
            team=team,
            presenting_needs=cmd.presenting_needs,
        )
    ]
    if cmd.intake_review is not None:  # (cases/features/intake_review.py)
        opened.append(
            ClientMatchesReviewed(
                candidates=cmd.intake_review.candidates, hidden=cmd.intake_review.hidden
            )
        )
    return opened


# --- engagement and assessment ------------------------------------------------------------


def decide_consent(state: CaseState, cmd: c.RecordConsent) -> list[DomainEvent]:
    _work(state, cmd, "recording consent")
    return [
        ConsentRecorded(
            shared_fields=cmd.shared_fields, providers=cmd.providers, preferences=cmd.preferences
        )
    ]


def check_assessment(state: CaseState, cmd: c.RecordAssessment) -> None:
    _work(state, cmd, "an assessment")


def decide_assessment(state: CaseState, cmd: c.RecordAssessment, score: Score) -> list[DomainEvent]:
    check_assessment(state, cmd)
    a = cmd.assessment
    return [
        AssessmentRecorded(
            assessment_id=f"assessment-{len(state.assessments) + 1}",
            reassessment=bool(state.assessments),
            domains=a.domains,
            strengths=a.strengths,
            resources=a.resources,
            barriers=a.barriers,
            client_priorities=a.client_priorities,
            needs=score.needs,
            risk_level=score.risk_level,
            scoring_rules=score.rules,
        )
    ]


# --- planning and approval ------------------------------------------------------------------


def decide_draft_plan(state: CaseState, cmd: c.DraftPlan) -> list[DomainEvent]:
    _work(state, cmd, "a plan")
    if not state.assessments:
        raise CommandRejected("a plan follows an assessment: record an assessment first")
    if state.draft_plan is not None and state.draft_plan.status is PlanStatus.SUBMITTED:
        raise CommandRejected(
            f"plan v{state.draft_plan.plan_version} is waiting for approval; "
            "it can be revised once it is returned"
        )
    goal_ids = [g.goal_id for g in cmd.plan.goals]
    duplicates = sorted({g for g in goal_ids if goal_ids.count(g) > 1})
    if duplicates:
        raise CommandRejected(f"plan.goals: duplicate goal_id {', '.join(duplicates)}")
    participants = cmd.plan.participants
    for member_id in participants.circle:
        member = state.circle.get(member_id)
        if member is None or not member.active:
            raise CommandRejected(
                f"plan.participants.circle: {member_id} is not in the client's circle of support"
            )
    version = state.plan_versions + 1
    return [
        PlanDrafted(
            plan_id=f"plan-{version}",
            plan_version=version,
            goals=cmd.plan.goals,
            crisis_plan=cmd.plan.crisis_plan,
            participation=cmd.plan.participation,
            participants=Participants(
                staff=list(dict.fromkeys(participants.staff)),
                circle=list(dict.fromkeys(participants.circle)),
            ),
        )
    ]


def decide_submit_plan(state: CaseState, cmd: c.SubmitPlan) -> list[DomainEvent]:
    _work(state, cmd, "submitting a plan")
    plan = state.draft_plan
    if plan is None:
        raise CommandRejected("there is no draft plan to submit")
    if plan.status is PlanStatus.SUBMITTED:
        raise CommandRejected(f"plan v{plan.plan_version} is already waiting for approval")
    if plan.status is PlanStatus.RETURNED:
        raise CommandRejected(
            f"plan v{plan.plan_version} was returned ({'; '.join(plan.returned_reasons)}): "
            "revise it before submitting again"
        )
    if not plan.client_agreed:
        raise CommandRejected(
            "participation.agreed: the client has not agreed to this plan; "
            "record the client's agreement in a revised draft before submitting"
        )
    return [
        ApprovalRequested(
            approval_id=f"approval-{state.approvals_requested + 1}",
            kind=ApprovalKind.PLAN,
            plan_id=plan.plan_id,
            plan_version=plan.plan_version,
            note=cmd.note,
        )
    ]


def decide_approval(state: CaseState, cmd: c.DecideApproval) -> list[DomainEvent]:
    _require_open(state, "an approval")
    pending = state.pending(cmd.kind)
    if pending is None:
        raise CommandRejected(f"there is no {cmd.kind} waiting for approval")
    _permit(state, cmd.actor, Action.APPROVE)
    refusal = approval_refusal_on(cmd.actor, state, pending)  # the one copy of the rule
    if refusal is not None:
        raise CommandRejected(refusal)
    if not cmd.approve:
        if not cmd.reasons:
            raise CommandRejected("reasons: returning needs at least one reason")
        return [
            ApprovalReturned(approval_id=pending.approval_id, kind=cmd.kind, reasons=cmd.reasons)
        ]
    granted = ApprovalGranted(approval_id=pending.approval_id, kind=cmd.kind, note=cmd.note)
    if cmd.kind is ApprovalKind.PLAN:
        assert pending.plan_id is not None and pending.plan_version is not None
        return [
            granted,
            PlanActivated(plan_id=pending.plan_id, plan_version=pending.plan_version),
        ]
    assert pending.closure_reason is not None
    return [granted, CaseClosed(reason=pending.closure_reason, note=cmd.note)]


# --- coordination ----------------------------------------------------------------------------


def decide_refer(state: CaseState, cmd: c.Refer) -> list[DomainEvent]:
    _work(state, cmd, "a referral")
    if state.active_goal(cmd.goal_id) is None:
        raise CommandRejected(
            f"goal_id: {cmd.goal_id} is not a goal of the active plan"
            + ("" if state.active_plan else " (no plan has been approved yet)")
        )
    if cmd.provider_id not in state.consent.providers:
        raise CommandRejected(
            f"provider_id: the client has not consented to share with {cmd.provider_id}"
        )
    outside = sorted(set(cmd.shared_fields) - set(state.consent.shared_fields))
    if outside:
        raise CommandRejected(
            "shared_fields: the client has not consented to share " + ", ".join(outside)
        )
    for referral in state.referrals.values():
        if (
            referral.status in OPEN_REFERRAL_STATUSES
            and referral.goal_id == cmd.goal_id
            and (referral.provider_id, referral.service_id) == (cmd.provider_id, cmd.service_id)
        ):
            raise CommandRejected(
                f"{referral.referral_id} to {cmd.provider_id}/{cmd.service_id} for this goal "
                f"is still {referral.status}"
            )
    return [
        ReferralMade(
            referral_id=f"referral-{len(state.referrals) + 1}",
            provider_id=cmd.provider_id,
            service_id=cmd.service_id,
            goal_id=cmd.goal_id,
            shared_fields=cmd.shared_fields,
            note=cmd.note,
        )
    ]


_REPLY_FROM = {
    "accepted": {ReferralStatus.MADE, ReferralStatus.DISPATCHED, ReferralStatus.DISPATCH_FAILED},
    "declined": {ReferralStatus.MADE, ReferralStatus.DISPATCHED, ReferralStatus.DISPATCH_FAILED},
    "completed": {ReferralStatus.ACCEPTED},
}


def _permit_provider_reply(state: CaseState, actor: Actor, referral_id: str) -> None:
    """PROVIDER_REPLY on the referral: a provider only on a referral to its organisation
    (defence in depth: admission already refused any other)."""
    referral = state.referrals.get(referral_id)
    try:
        check_case(
            actor,
            Action.PROVIDER_REPLY,
            state,
            referral_provider=referral.provider_id if referral is not None else None,
        )
    except NotPermitted as exc:
        raise CommandRejected(str(exc)) from None


def decide_referral_reply(state: CaseState, cmd: c.ReferralReply) -> list[DomainEvent]:
    _require_open(state, "a referral reply")
    _permit_provider_reply(state, cmd.actor, cmd.referral_id)
    referral = state.referrals.get(cmd.referral_id)
    if referral is None:
        raise CommandRejected(f"referral_id: the case has no referral {cmd.referral_id}")
    if referral.status not in _REPLY_FROM[cmd.outcome]:
        raise CommandRejected(
            f"{cmd.referral_id} is {referral.status}: it cannot be {cmd.outcome} now"
        )
    if cmd.outcome == "accepted":
        return [ReferralAccepted(referral_id=cmd.referral_id, note=cmd.note)]
    if cmd.outcome == "declined":
        if not cmd.reason:
            raise CommandRejected("reason: a declined referral needs the provider's reason")
        return [ReferralDeclined(referral_id=cmd.referral_id, reason=cmd.reason)]
    return [ReferralCompleted(referral_id=cmd.referral_id, outcome=cmd.note)]


def decide_provider_report(state: CaseState, cmd: c.ProviderReport) -> list[DomainEvent]:
    _require_open(state, "a provider report")
    _permit_provider_reply(state, cmd.actor, cmd.referral_id)
    if cmd.referral_id not in state.referrals:
        raise CommandRejected(f"referral_id: the case has no referral {cmd.referral_id}")
    return [ProviderReportReceived(referral_id=cmd.referral_id, report=cmd.report)]


# --- monitoring and evaluation -------------------------------------------------------------


def decide_contact(state: CaseState, cmd: c.LogContact) -> list[DomainEvent]:
    _work(state, cmd, "a contact")
    if cmd.contact_date < state.opened_at.date():
        raise CommandRejected(
            f"contact_date: {cmd.contact_date} is before the case was opened "
            f"({state.opened_at.date()})"
        )
    return [
        ContactLogged(
            contact_id=f"contact-{state.contacts + 1}",
            kind=cmd.kind,
            contact_date=cmd.contact_date,
            duration_minutes=cmd.duration_minutes,
            notes=cmd.notes,
        )
    ]


def decide_progress(state: CaseState, cmd: c.RecordProgress) -> list[DomainEvent]:
    _work(state, cmd, "goal progress")
    if state.active_goal(cmd.goal_id) is None:
        raise CommandRejected(f"goal_id: {cmd.goal_id} is not a goal of the active plan")
    return [GoalProgressRecorded(goal_id=cmd.goal_id, status=cmd.status, note=cmd.note)]


def decide_evaluate(state: CaseState, cmd: c.Evaluate) -> list[DomainEvent]:
    _work(state, cmd, "an evaluation")
    if state.active_plan is None:
        raise CommandRejected("there is no active plan to evaluate")
    goals = {g.goal_id for g in state.active_plan.goals}
    given = [e.goal_id for e in cmd.evaluations]
    unknown = sorted(set(given) - goals)
    if unknown:
        raise CommandRejected(f"evaluations: {', '.join(unknown)} not in the active plan")
    missing = sorted(goals - set(given))
    if missing:
        raise CommandRejected(f"evaluations: every goal is evaluated; missing {', '.join(missing)}")
    if len(given) != len(set(given)):
        raise CommandRejected("evaluations: a goal is evaluated twice")
    return [
        GoalsEvaluated(
            evaluation_id=f"evaluation-{state.evaluations + 1}",
            evaluations=cmd.evaluations,
            next_step=cmd.next_step,
        )
    ]


# --- assignment and transfer -------------------------------------------------------------


def _assignable(assignee: Actor, field: str) -> str:
    if assignee.role not in (Role.CASEWORKER, Role.SUPERVISOR) or assignee.team is None:
        raise CommandRejected(
            f"{field}: {assignee.staff_id} is a {assignee.role}; "
            "cases are assigned to a caseworker or supervisor of a team"
        )
    return assignee.team


def decide_assign(state: CaseState, cmd: c.Assign) -> list[DomainEvent]:
    _require_open(state, "an assignment")
    _permit(state, cmd.actor, Action.ASSIGN)
    team = _assignable(cmd.assignee, "assignee")
    if cmd.actor.role is Role.SUPERVISOR and team != state.team:
        raise CommandRejected(
            f"assignee: {cmd.assignee.staff_id} is in team {team}; "
            "moving a case to another team is a transfer"
        )
    if cmd.assignee.staff_id == state.assigned_worker:
        raise CommandRejected(f"assignee: the case is already assigned to {state.assigned_worker}")
    return [CaseAssigned(worker=cmd.assignee.staff_id, team=team, reason=cmd.reason)]


def decide_transfer(state: CaseState, cmd: c.RequestTransfer) -> list[DomainEvent]:
    _work(state, cmd, "a transfer")
    if state.pending_transfer is not None:
        raise CommandRejected(f"{state.pending_transfer.transfer_id} is still waiting for a reply")
    if cmd.to_worker is not None:
        team = _assignable(cmd.to_worker, "to_worker")
        if team != cmd.to_team:
            raise CommandRejected(
                f"to_worker: {cmd.to_worker.staff_id} is not in team {cmd.to_team}"
            )
        if cmd.to_worker.staff_id == state.assigned_worker:
            raise CommandRejected(f"to_worker: the case is already with {state.assigned_worker}")
    return [
        TransferRequested(
            transfer_id=f"transfer-{state.transfers_requested + 1}",
            to_worker=cmd.to_worker.staff_id if cmd.to_worker else None,
            to_team=cmd.to_team,
            reason=cmd.reason,
        )
    ]


def decide_transfer_reply(state: CaseState, cmd: c.ReplyTransfer) -> list[DomainEvent]:
    _require_open(state, "a transfer reply")
    pending = state.pending_transfer
    if pending is None:
        raise CommandRejected("there is no transfer waiting for a reply")
    actor = cmd.actor
    is_receiver = actor.staff_id == pending.to_worker or (
        pending.to_worker is None
        and actor.role is Role.CASEWORKER
        and actor.team == pending.to_team
    )
    is_receiving_supervisor = actor.role is Role.SUPERVISOR and actor.team == pending.to_team
    if not (is_receiver or is_receiving_supervisor or actor.role is Role.MANAGER):
        raise CommandRejected(
            f"{actor.staff_id} may not answer {pending.transfer_id}: only "
            f"{pending.to_worker or 'the receiving worker'} or a supervisor of team "
            f"{pending.to_team}"
        )
    if not cmd.accept:
        if not cmd.reason:
            raise CommandRejected("reason: rejecting a transfer needs a reason")
        return [TransferRejected(transfer_id=pending.transfer_id, reason=cmd.reason)]
    worker = pending.to_worker
    if worker is None:
        if actor.role is not Role.CASEWORKER or actor.team != pending.to_team:
            raise CommandRejected(
                f"{pending.transfer_id} names no worker: a caseworker of team {pending.to_team} "
                "accepts it (and takes the case)"
            )
        worker = actor.staff_id
    return [TransferAccepted(transfer_id=pending.transfer_id, worker=worker, team=pending.to_team)]


# --- closure -------------------------------------------------------------------------------


def decide_request_closure(state: CaseState, cmd: c.RequestClosure) -> list[DomainEvent]:
    _work(state, cmd, "closing")
    if state.pending(ApprovalKind.CLOSURE) is not None:
        raise CommandRejected("a closure is already waiting for approval")
    return [
        ApprovalRequested(
            approval_id=f"approval-{state.approvals_requested + 1}",
            kind=ApprovalKind.CLOSURE,
            closure_reason=cmd.reason,
            note=cmd.note,
        )
    ]


def decide_hold(state: CaseState, cmd: c.HoldCase, now: datetime) -> list[DomainEvent]:
    _work(state, cmd, "a hold")
    if state.hold is not None:
        raise CommandRejected(f"the case is already on hold until {state.hold.until:%Y-%m-%d}")
    if cmd.until <= now:
        raise CommandRejected(f"until: {cmd.until:%Y-%m-%d %H:%M} is not in the future")
    return [CaseOnHold(reason=cmd.reason, until=cmd.until)]


def decide_resume(state: CaseState, cmd: c.ResumeCase) -> list[DomainEvent]:
    _work(state, cmd, "resuming")
    if state.hold is None:
        raise CommandRejected("the case is not on hold")
    return [CaseResumed(reason=cmd.reason)]


def decide_note(state: CaseState, cmd: c.RecordNote) -> list[DomainEvent]:
    _require_open(state, "a case note")
    _permit(state, cmd.actor, Action.NOTE)
    return [CaseNoteRecorded(note_id=f"note-{state.notes + 1}", text=cmd.text)]


def decide_forget(state: CaseState, cmd: c.ForgetClient) -> list[DomainEvent]:
    _permit(state, cmd.actor, Action.ERASE)
    if state.forgotten:
        raise CommandRejected(f"client {state.client_ref} was already forgotten")
    return [ClientForgotten(client_ref=state.client_ref, reason=cmd.reason)]


def refuse_personal_details_once_forgotten(
    state: CaseState, cmd: c.Command, events: Sequence[DomainEvent] = ()
) -> None:
    """On a forgotten client's case, refuse a command that would record personal details.

    Driven by the personal-field marking (events/fields.py): any personal field of the
    command, or of the events it yields, that records something (not empty, not the
    erased marker) is refused, naming the field. Commands without personal text (closing
    the case, assigning it) still pass. Every rule of the command table runs through it
    (cases/command_table.py), so a command added later is covered too.
    """
    if not state.forgotten:
        return
    fields = recorded_personal_fields(type(cmd), cmd.model_dump(mode="json"))
    for event in events:
        if fields:
            break
        fields = recorded_personal_fields(type(event), event.to_data())
    if fields:
        on = f" on {state.forgotten_at.date().isoformat()}" if state.forgotten_at else ""
        raise CommandRejected(
            f"{fields[0]}: the client was forgotten{on}; personal details can no longer "
            "be recorded on this case"
        )


def check_apply_policy(cmd: c.ApplyPolicy) -> None:
    if cmd.actor.role not in (Role.ADMIN, Role.MANAGER, Role.SYSTEM):
        raise CommandRejected(
            f"{cmd.actor.staff_id} ({cmd.actor.role}) may not change the agency's policy"
        )


def decide_reopen(state: CaseState, cmd: c.Reopen) -> list[DomainEvent]:
    if state.is_open:
        raise CommandRejected("the case is open: only a closed case can be reopened")
    _permit(state, cmd.actor, Action.REOPEN)
    return [CaseReopened(reason=cmd.reason)]
