"""Timed rules: review dates, lapses, escalation ladders, follow-ups and holds.

Pure functions of (state, policy, now). The workflow calls `reactions` after every
command, `due_events` when a timer fires (repeatedly, until it returns nothing),
and sleeps until `next_wakeup`.

* Next review = the review clock's start (opening, last assessment, reopening;
  shifted by any time on hold) + the policy's interval for the risk level.
* At the due date `ReviewDue` (a task for the assigned worker); at due + grace
  with no assessment, `ReviewLapsed` and escalation level 1; each ladder delay
  without action raises the next level. An assessment resolves it and re-arms.
* A plan or closure approval undecided past the approval deadline escalates; a
  referral with no reply past the reply deadline is followed up and escalates.
* An open advocacy whose next step's date has passed with nothing recorded is
  followed up (`AdvocacyFollowUpDue`, the day after the date) and escalates like a
  referral; recording a step or the outcome resolves it. A hold pauses the follow-up.
* A plan's open action reminds its owner's worker `action_reminder_lead` before its due
  date (`ActionReminderDue`) and is marked overdue at it (`ActionOverdue`); an overdue
  action the policy counts as critical (`critical_actions`) escalates up the same
  ladder as a lapsed review. Done, dropped or given a new due date resolves it. A hold
  suspends all of it (an action that fell due during the hold is overdue at its end).
* A case on hold raises nothing about its review until the hold ends; a closed
  case raises nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from cases.policy import Policy
from cases.state import ActionStatus, CaseState, Escalation
from events.registry import DomainEvent
from events.vocabulary import (
    ActionOverdue,
    ActionReminderDue,
    AdvocacyFollowUpDue,
    AssessmentRecorded,
    CaseOpened,
    CaseReopened,
    CaseResumed,
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    ReferralFollowUpDue,
    ReviewDue,
    ReviewLapsed,
    ReviewReason,
    ReviewScheduled,
)


def desired_review_due(state: CaseState, policy: Policy) -> datetime | None:
    if not state.is_open or state.hold is not None or state.review_base_at is None:
        return None
    return (
        state.review_base_at
        + policy.interval(state.risk_level)
        + policy.review_offset(state.case_id)
    )


def _review_subject(state: CaseState) -> str:
    return f"review-{state.reviews_scheduled}"


def _subject_resolved(state: CaseState, esc: Escalation) -> str | None:
    """Why an open escalation is resolved now, or None while it still stands."""
    if not state.is_open:
        return "case closed"
    if esc.subject is EscalationSubject.REVIEW:
        if state.review_base_at is not None and state.review_base_at > esc.raised_at:
            return "review recorded"
        if esc.subject_id != _review_subject(state):
            return "review rescheduled"
    elif esc.subject is EscalationSubject.APPROVAL:
        if esc.subject_id not in state.approvals:
            return "approval decided"
    elif esc.subject is EscalationSubject.REFERRAL:
        referral = state.referrals.get(esc.subject_id)
        if referral is None or not referral.waiting_for_reply:
            return "provider replied"
    elif esc.subject is EscalationSubject.ACTION:
        action = state.actions.get(esc.subject_id)
        if action is None or action.status is ActionStatus.DONE:
            return "action done"
        if action.status is ActionStatus.DROPPED:
            return "action dropped"
        if action.status is not ActionStatus.OVERDUE:
            return "action given a new due date"
    elif esc.subject is EscalationSubject.ADVOCACY:
        return _advocacy_resolved(state, esc.subject_id)
    return None


def _advocacy_resolved(state: CaseState, subject_id: str) -> str | None:
    """An advocacy escalation (subject `advocacy-<n>.step-<k>`) stands until the step moves."""
    advocacy = state.advocacy.get(subject_id.split(".", 1)[0])
    if advocacy is None or not advocacy.is_open:
        return "advocacy concluded"
    if advocacy.step_subject != subject_id:
        return "advocacy step recorded"
    return None


def reactions(
    state: CaseState, policy: Policy, trigger: Sequence[DomainEvent], policy_changed: bool = False
) -> list[DomainEvent]:
    """What a change of state sets off at once: resolutions and a (re)scheduled review."""
    events: list[DomainEvent] = []
    for esc in state.escalations.values():
        why = _subject_resolved(state, esc)
        if why is not None:
            events.append(EscalationResolved(escalation_id=esc.escalation_id, resolution=why))
    due = desired_review_due(state, policy)
    if due is not None and due != state.next_review_due:
        events.append(
            ReviewScheduled(
                due_at=due,
                reason=_review_reason(state, trigger, policy_changed),
                risk_level=state.risk_level,
                policy_version=policy.version,
            )
        )
    return events


def _review_reason(
    state: CaseState, trigger: Sequence[DomainEvent], policy_changed: bool
) -> ReviewReason:
    if policy_changed:
        return ReviewReason.POLICY_CHANGED
    for event in trigger:
        match event:
            case CaseOpened():
                return ReviewReason.OPENED
            case CaseReopened():
                return ReviewReason.REOPENED
            case CaseResumed():
                return ReviewReason.RESUMED
            case AssessmentRecorded():
                previous = state.assessments[-2].risk_level if len(state.assessments) > 1 else None
                changed = previous is not None and previous != event.risk_level
                return ReviewReason.RISK_CHANGED if changed else ReviewReason.ASSESSED
    return ReviewReason.RISK_CHANGED


def _timed(state: CaseState, policy: Policy) -> list[tuple[datetime, list[DomainEvent]]]:
    """Every timed consequence the state is waiting for, with when it falls due."""
    if not state.is_open:
        return []
    pending: list[tuple[datetime, list[DomainEvent]]] = []
    ladder = policy.escalation_ladder
    first = ladder[0]

    def escalate(subject: EscalationSubject, subject_id: str, reason: str) -> list[DomainEvent]:
        return [
            EscalationRaised(
                escalation_id=f"escalation-{state.escalations_raised + 1}",
                subject=subject,
                subject_id=subject_id,
                level=1,
                notify=first.notify,
                team=state.team,
                reason=reason,
            )
        ]

    def not_escalated(subject: EscalationSubject, subject_id: str) -> bool:
        return f"{subject}:{subject_id}" not in state.escalated_subjects

    if state.hold is not None:
        pending.append((state.hold.until, [CaseResumed(reason="the hold's end date was reached")]))
    elif state.next_review_due is not None:
        due = state.next_review_due
        if not state.review_due_raised:
            pending.append((due, [ReviewDue(due_at=due, assigned_worker=state.assigned_worker)]))
        elif state.review_lapsed_at is None:
            grace_end = due + policy.review_grace
            lapsed: list[DomainEvent] = [ReviewLapsed(due_at=due, grace_ended_at=grace_end)]
            if not first.after:  # level 1 at the very moment of the lapse
                lapsed += escalate(
                    EscalationSubject.REVIEW,
                    _review_subject(state),
                    f"review due {due:%Y-%m-%d %H:%M} lapsed",
                )
            pending.append((grace_end, lapsed))
        elif not_escalated(EscalationSubject.REVIEW, _review_subject(state)):
            pending.append(
                (
                    state.review_lapsed_at + first.after,
                    escalate(
                        EscalationSubject.REVIEW,
                        _review_subject(state),
                        f"review due {due:%Y-%m-%d %H:%M} lapsed",
                    ),
                )
            )

    for approval in state.approvals.values():
        if not_escalated(EscalationSubject.APPROVAL, approval.approval_id):
            pending.append(
                (
                    approval.requested_at + policy.approval_deadline + first.after,
                    escalate(
                        EscalationSubject.APPROVAL,
                        approval.approval_id,
                        f"{approval.kind} approval not decided in time",
                    ),
                )
            )

    for referral in state.referrals.values():
        if not referral.waiting_for_reply:
            continue
        deadline = referral.made_at + policy.referral_reply_deadline
        if not referral.followed_up:
            follow_up: list[DomainEvent] = [
                ReferralFollowUpDue(
                    referral_id=referral.referral_id, waiting_since=referral.made_at
                )
            ]
            if not first.after:
                follow_up += escalate(
                    EscalationSubject.REFERRAL,
                    referral.referral_id,
                    f"no reply from {referral.provider_id}",
                )
            pending.append((deadline, follow_up))
        elif not_escalated(EscalationSubject.REFERRAL, referral.referral_id):
            pending.append(
                (
                    deadline + first.after,
                    escalate(
                        EscalationSubject.REFERRAL,
                        referral.referral_id,
                        f"no reply from {referral.provider_id}",
                    ),
                )
            )

    if state.hold is None:  # a hold pauses advocacy follow-ups (evolve shifts them on)
        for advocacy in state.advocacy.values():
            if not advocacy.is_open:
                continue
            why = (
                f"{advocacy.advocacy_id} ({advocacy.barrier}): next step due "
                f"{advocacy.next_step_date} not recorded"
            )
            if not advocacy.followed_up:
                advocacy_follow_up: list[DomainEvent] = [
                    AdvocacyFollowUpDue(
                        advocacy_id=advocacy.advocacy_id,
                        step=advocacy.step,
                        next_step_date=advocacy.next_step_date,
                    )
                ]
                if not first.after:
                    advocacy_follow_up += escalate(
                        EscalationSubject.ADVOCACY, advocacy.step_subject, why
                    )
                pending.append((advocacy.follow_up_at, advocacy_follow_up))
            elif not_escalated(EscalationSubject.ADVOCACY, advocacy.step_subject):
                pending.append(
                    (
                        advocacy.follow_up_at + first.after,
                        escalate(EscalationSubject.ADVOCACY, advocacy.step_subject, why),
                    )
                )

    if state.hold is None:  # a hold suspends action reminders, overdue marks and escalations
        pending += _action_timers(state, policy, escalate)

    for esc in state.escalations.values():
        paused = (EscalationSubject.REVIEW, EscalationSubject.ADVOCACY, EscalationSubject.ACTION)
        if esc.subject in paused and state.hold is not None:
            continue
        if esc.level < len(ladder):
            step = ladder[esc.level]
            raised = EscalationRaised(
                escalation_id=esc.escalation_id,
                subject=esc.subject,
                subject_id=esc.subject_id,
                level=esc.level + 1,
                notify=step.notify,
                team=state.team,
                reason=esc.reason,
            )
            pending.append((esc.level_raised_at + step.after, [raised]))
    return pending


def _action_timers(
    state: CaseState,
    policy: Policy,
    escalate: Callable[[EscalationSubject, str, str], list[DomainEvent]],
) -> list[tuple[datetime, list[DomainEvent]]]:
    """Reminders, overdue marks and first escalations of the plan's open actions."""
    pending: list[tuple[datetime, list[DomainEvent]]] = []
    first = policy.escalation_ladder[0]
    escalated = {
        esc.subject_id
        for esc in state.escalations.values()
        if esc.subject is EscalationSubject.ACTION
    }
    for action in state.actions.values():
        if not action.is_open:
            continue
        worker = action.worker(state.assigned_worker)
        critical = policy.action_is_critical(action.crisis_plan, state.risk_level)
        why = (
            f"{action.action_id} ({action.owner.label()}) "
            f"overdue since {action.due_at:%Y-%m-%d %H:%M}"
        )
        if action.status is ActionStatus.OPEN:
            lead = policy.action_reminder_lead
            if lead and not action.reminded:
                reminder = ActionReminderDue(
                    action_id=action.action_id, due_at=action.due_at, worker=worker
                )
                pending.append((action.due_at - lead, [reminder]))
            overdue: list[DomainEvent] = [
                ActionOverdue(action_id=action.action_id, due_at=action.due_at, worker=worker)
            ]
            if critical and not first.after:
                overdue += escalate(EscalationSubject.ACTION, action.action_id, why)
            pending.append((action.due_at, overdue))
        elif critical and action.action_id not in escalated and action.overdue_at is not None:
            pending.append(
                (
                    action.overdue_at + first.after,
                    escalate(EscalationSubject.ACTION, action.action_id, why),
                )
            )
    return pending


def due_events(state: CaseState, policy: Policy, now: datetime) -> list[DomainEvent]:
    """The earliest timed consequence due at `now` (call again after applying it)."""
    due = [(when, events) for when, events in _timed(state, policy) if when <= now]
    if not due:
        return []
    return min(due, key=lambda item: item[0])[1]


def next_wakeup(state: CaseState, policy: Policy) -> datetime | None:
    times = [when for when, _ in _timed(state, policy)]
    return min(times) if times else None
