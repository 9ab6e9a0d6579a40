"""Valid case lifecycles, generated step by step from a chooser (hypothesis or random).

`simulate_case(chooser, steps)` returns the NewEvents of one case in stream order;
every step is one the case workflow could take in the state the case is in.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, TypeVar

from events.envelope import EventMetadata, NewEvent
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionOwner,
    ActionOwnerKind,
    ActionReassigned,
    ActionReminderDue,
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyConcluded,
    AdvocacyFollowUpDue,
    AdvocacyOpened,
    AdvocacyOutcome,
    AdvocacyStepRecorded,
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseConferenceRecorded,
    CaseOnHold,
    CaseOpened,
    CaseReopened,
    CaseResumed,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberDetails,
    CircleMemberRemoved,
    CircleMemberUpdated,
    CircleRole,
    CircleShare,
    ClientContact,
    ClientDetails,
    ClientFeedbackRecorded,
    ClientParticipation,
    ClosureReason,
    ConsentGiver,
    ConsentRecorded,
    ContactKind,
    ContactLogged,
    Domain,
    DomainNeed,
    DomainRating,
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    FeedbackSubject,
    Goal,
    GoalEvaluation,
    GoalKind,
    GoalOutcome,
    GoalProgressRecorded,
    GoalsEvaluated,
    GoalStatus,
    GoalTerm,
    NextStep,
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
    ReferralSource,
    ReviewDue,
    ReviewLapsed,
    ReviewReason,
    ReviewScheduled,
    RiskLevel,
    SharedField,
    SharedWithCircleMember,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)

T = TypeVar("T")

TEAMS: dict[str, tuple[str, ...]] = {
    "team-a": ("worker-a1", "worker-a2"),
    "team-b": ("worker-b1", "worker-b2"),
}


def supervisor_of(team: str) -> str:
    return f"super-{team}"


PROVIDERS = ("provider-food", "provider-housing", "provider-clinic")
CLIENT_NAME = "Zelda Quixote-Secret"
"""Every generated client has this name: read models must never contain it."""


class Chooser(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...

    def integer(self, low: int, high: int) -> int: ...


class RandomChooser:
    def __init__(self, seed: int | random.Random) -> None:
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


@dataclass
class CaseState:
    case_id: uuid.UUID
    teams: dict[str, tuple[str, ...]]
    worker: str
    team: str
    clock: datetime
    status: str = "open"
    assessed: bool = False
    plan_id: str = "plan-1"
    plan_version: int = 0
    plan_goals: list[str] = field(default_factory=list)
    plan_approved_version: int = 0
    active_version: int = 0
    pending: tuple[str, str] | None = None  # (approval_id, kind)
    approvals: int = 0
    referrals: dict[str, str] = field(default_factory=dict)  # id -> status
    transfer: tuple[str, str] | None = None  # (transfer_id, to_team)
    transfers: int = 0
    contacts: int = 0
    evaluations: int = 0
    closure_reason: ClosureReason | None = None
    review_due_at: datetime | None = None
    escalation: tuple[str, int] | None = None  # (id, level)
    escalations: int = 0
    on_hold: bool = False
    circle: list[str] = field(default_factory=list)  # active circle members
    circle_added: int = 0
    conferences: int = 0
    actions: dict[str, str] = field(default_factory=dict)  # id -> open/overdue/done/dropped
    advocacies: dict[str, int] = field(default_factory=dict)  # open advocacy id -> its step
    advocacies_opened: int = 0
    feedback: int = 0


def _meta(actor: str, role: str) -> EventMetadata:
    return EventMetadata(actor_id=actor, actor_role=role, correlation_id="lifecycle")


def simulate_case(
    chooser: Chooser,
    steps: int,
    start: datetime | None = None,
    teams: dict[str, tuple[str, ...]] | None = None,
) -> tuple[uuid.UUID, list[NewEvent]]:
    """One case: CaseOpened then up to `steps` valid steps (teams: team -> workers)."""
    teams = teams or TEAMS
    team = chooser.choice(sorted(teams))
    state = CaseState(
        case_id=uuid.uuid4(),
        teams=teams,
        worker=chooser.choice(teams[team]),
        team=team,
        clock=start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    )
    out: list[NewEvent] = []

    def emit(event: DomainEvent, actor: str | None = None, role: str = "caseworker") -> None:
        state.clock += timedelta(hours=chooser.integer(1, 72))
        out.append(
            NewEvent(
                event_id=uuid.uuid4(),
                event_type=event.type,
                schema_version=event.schema_version,
                data=event.to_data(),
                metadata=_meta(actor or state.worker, role),
                occurred_at=state.clock,
            )
        )

    emit(
        CaseOpened(
            case_id=state.case_id,
            client_ref=f"C-{state.case_id.hex[:8]}",
            client=ClientDetails(name=CLIENT_NAME, date_of_birth=date(1980, 2, 3)),
            referral_source=chooser.choice(list(ReferralSource)),
            assigned_worker=state.worker,
            team=state.team,
            presenting_needs=["housing"],
        ),
        actor="intake-1",
    )
    for _ in range(steps):
        options = _options(state)
        if not options:
            break
        step = chooser.choice(options)
        _STEPS[step](state, chooser, emit)
    return state.case_id, out


def _options(s: CaseState) -> list[str]:
    if s.status == "closed":
        return ["reopen"]
    opts = ["consent", "assess", "contact", "assign", "schedule_review"]
    if s.review_due_at is not None:
        opts += ["review_due", "review_lapsed"]
    opts.append("escalate")
    if s.escalation is not None:
        opts.append("resolve_escalation")
    opts.append("resume" if s.on_hold else "hold")
    if s.assessed and s.pending is None and s.plan_version == s.plan_approved_version:
        opts.append("draft")
    if s.pending is None and s.plan_version > s.plan_approved_version:
        opts.append("request_plan")
    if s.pending is not None:
        opts += ["grant", "return"]
    if s.active_version:
        opts += ["refer", "progress", "evaluate"]
    for status in s.referrals.values():
        if status in ("made", "dispatch_failed"):
            opts.append("dispatch")
        if status == "sent":
            opts += ["respond", "follow_up"]
        if status == "accepted":
            opts += ["complete", "report"]
    if s.transfer is None:
        opts.append("transfer")
    else:
        opts.append("transfer_answer")
    if s.pending is None:
        opts += ["request_closure", "close"]
    opts += ["circle", "conference", "advocacy", "feedback"]
    if s.active_version:
        opts.append("action")
    return sorted(set(opts))


class _EmitFn(Protocol):
    def __call__(
        self, event: DomainEvent, actor: str | None = None, role: str = "caseworker"
    ) -> None: ...


def _step_consent(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    emit(
        ConsentRecorded(
            shared_fields=[c.choice(list(SharedField))], providers=[c.choice(PROVIDERS)]
        )
    )


def _step_assess(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    emit(
        AssessmentRecorded(
            assessment_id=f"assess-{c.integer(1, 10**9)}",
            reassessment=s.assessed,
            domains={Domain.HOUSING: DomainRating(rating=c.integer(0, 4))},
            needs=[DomainNeed(domain=Domain.HOUSING, need="moderate")],
            risk_level=c.choice(list(RiskLevel)),
            scoring_rules="rules-v1",
        )
    )
    s.assessed = True


def _step_contact(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.contacts += 1
    emit(
        ContactLogged(
            contact_id=f"contact-{s.contacts}",
            kind=c.choice(list(ContactKind)),
            contact_date=(s.clock + timedelta(days=c.integer(0, 2))).date(),
            duration_minutes=c.integer(0, 90),
            notes=f"Talked with {CLIENT_NAME} about rent",
        )
    )


def _step_assign(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.worker = c.choice(s.teams[s.team])
    emit(
        CaseAssigned(worker=s.worker, team=s.team, reason="balancing caseloads"),
        supervisor_of(s.team),
        "supervisor",
    )


def _step_draft(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.plan_version += 1
    domains = list(Domain)
    goals = [
        Goal(
            goal_id=f"goal-{i}",
            client_words="I want a safe place",
            domain=c.choice(domains),
            term=GoalTerm.SHORT,
            kind=GoalKind.LOGISTICAL,
            objective="Signed tenancy",
            target_date=date(2026, 6, 1),
        )
        for i in range(1, c.integer(1, 3) + 1)
    ]
    s.plan_goals = [g.goal_id for g in goals]
    emit(
        PlanDrafted(
            plan_id=s.plan_id,
            plan_version=s.plan_version,
            goals=goals,
            participation=ClientParticipation(participated=True, agreed=c.choice([True, False])),
        )
    )


def _step_request_plan(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.approvals += 1
    s.pending = (f"approval-{s.approvals}", "plan")
    emit(
        ApprovalRequested(
            approval_id=s.pending[0],
            kind=ApprovalKind.PLAN,
            plan_id=s.plan_id,
            plan_version=s.plan_version,
        )
    )


def _step_request_closure(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.approvals += 1
    s.pending = (f"approval-{s.approvals}", "closure")
    s.closure_reason = c.choice(list(ClosureReason))
    emit(
        ApprovalRequested(
            approval_id=s.pending[0], kind=ApprovalKind.CLOSURE, closure_reason=s.closure_reason
        )
    )


def _step_grant(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    assert s.pending is not None
    approval_id, kind = s.pending
    s.pending = None
    emit(
        ApprovalGranted(approval_id=approval_id, kind=ApprovalKind(kind)),
        supervisor_of(s.team),
        "supervisor",
    )
    if kind == "plan":
        s.plan_approved_version = s.plan_version
        s.active_version = s.plan_version
        emit(PlanActivated(plan_id=s.plan_id, plan_version=s.plan_version), "casework", "system")
    else:
        _close(s, emit, s.closure_reason or ClosureReason.GOALS_MET)


def _step_return(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    assert s.pending is not None
    approval_id, kind = s.pending
    s.pending = None
    if kind == "plan":
        s.plan_approved_version = s.plan_version  # a returned version needs a new draft
    emit(
        ApprovalReturned(
            approval_id=approval_id, kind=ApprovalKind(kind), reasons=["needs measurable goals"]
        ),
        supervisor_of(s.team),
        "supervisor",
    )


def _close(s: CaseState, emit: _EmitFn, reason: ClosureReason) -> None:
    s.status = "closed"
    s.transfer = None
    s.review_due_at = None
    emit(CaseClosed(reason=reason, note=f"closed for {CLIENT_NAME}"))


def _step_close(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    _close(s, emit, c.choice(list(ClosureReason)))


def _step_schedule_review(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.review_due_at = s.clock + timedelta(days=c.integer(7, 120))
    emit(
        ReviewScheduled(
            due_at=s.review_due_at,
            reason=c.choice(list(ReviewReason)),
            risk_level=c.choice(list(RiskLevel)),
            policy_version=1,
        ),
        "casework",
        "system",
    )


def _step_review_due(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    assert s.review_due_at is not None
    emit(ReviewDue(due_at=s.review_due_at, assigned_worker=s.worker), "casework", "system")


def _step_review_lapsed(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    assert s.review_due_at is not None
    emit(
        ReviewLapsed(due_at=s.review_due_at, grace_ended_at=s.review_due_at + timedelta(days=7)),
        "casework",
        "system",
    )


def _step_escalate(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    if s.escalation is None:
        s.escalations += 1
        s.escalation = (f"esc-{s.escalations}", 1)
    else:
        s.escalation = (s.escalation[0], s.escalation[1] + 1)
    emit(
        EscalationRaised(
            escalation_id=s.escalation[0],
            subject=EscalationSubject.REVIEW,
            subject_id="review-1",
            level=min(s.escalation[1], 10),
            notify=c.choice(["worker", "supervisor", "manager"]),
            team=s.team,
            reason="review lapsed",
        ),
        "casework",
        "system",
    )


def _step_resolve_escalation(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    assert s.escalation is not None
    emit(EscalationResolved(escalation_id=s.escalation[0], resolution="review done"))
    s.escalation = None


def _step_hold(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.on_hold = True
    emit(CaseOnHold(reason="client in hospital", until=s.clock + timedelta(days=30)))


def _step_resume(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.on_hold = False
    emit(CaseResumed(reason="client back home"))


def _step_follow_up(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    referral_id = _pick_referral(s, c, "sent")
    emit(
        ReferralFollowUpDue(referral_id=referral_id, waiting_since=s.clock),
        "casework",
        "system",
    )


def _step_circle(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    """The circle of support: a member added, or one updated, removed, consented for or
    shared with (their details are the client's personal data: never in a read model)."""
    details = CircleMemberDetails(
        name=f"Sister of {CLIENT_NAME}",
        relationship="sister",
        contact=ClientContact(phone="555-0199"),
        notes=f"{CLIENT_NAME} asked us to call her",
    )
    op = c.choice(["add", "update", "remove", "consent", "share"] if s.circle else ["add"])
    if op == "add":
        s.circle_added += 1
        member_id = f"member-{s.circle_added}"
        s.circle.append(member_id)
        emit(
            CircleMemberAdded(member_id=member_id, role=c.choice(list(CircleRole)), details=details)
        )
        return
    member_id = c.choice(s.circle)
    if op == "update":
        emit(
            CircleMemberUpdated(
                member_id=member_id, role=c.choice(list(CircleRole)), details=details
            )
        )
    elif op == "remove":
        s.circle.remove(member_id)
        emit(CircleMemberRemoved(member_id=member_id, reason="moved away"))
    elif op == "consent":
        shared = [x for x in CircleShare if c.integer(0, 1)]
        emit(CircleConsentRecorded(member_id=member_id, shared=shared, note=CLIENT_NAME))
    else:
        emit(SharedWithCircleMember(member_id=member_id, items=[CircleShare.PLAN]))


def _step_conference(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.conferences += 1
    emit(
        CaseConferenceRecorded(
            conference_id=f"conference-{s.conferences}",
            held_on=s.clock.date(),
            client_attended=bool(c.integer(0, 1)),
            participants=Participants(
                staff=[s.worker, supervisor_of(s.team)][: c.integer(1, 2)],
                circle=[m for m in s.circle if c.integer(0, 1)],
            ),
            decisions=[f"{CLIENT_NAME} moves in with her sister"][: c.integer(0, 1)],
            notes=f"{CLIENT_NAME} chaired it",
        )
    )


def _step_action(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    """A plan action added, or one of the open ones reminded of, overdue, done, dropped or
    handed to someone else (descriptions and owners' names are personal)."""
    live = sorted(a for a, status in s.actions.items() if status in ("open", "overdue"))
    op = c.choice(["add", "remind", "overdue", "done", "drop", "reassign"] if live else ["add"])
    due = s.clock + timedelta(days=c.integer(1, 30))
    if op == "add":
        action_id = f"action-{len(s.actions) + 1}"
        s.actions[action_id] = "open"
        owner = ActionOwner(kind=ActionOwnerKind.FAMILY, name=f"Sister of {CLIENT_NAME}")
        emit(
            ActionAdded(
                action_id=action_id,
                goal_id=c.choice(s.plan_goals),
                description=f"{CLIENT_NAME} brings her papers",
                owner=owner,
                due_at=due,
                crisis_plan=bool(c.integer(0, 1)),
            )
        )
        return
    action_id = c.choice(live)
    if op == "remind":
        emit(ActionReminderDue(action_id=action_id, due_at=due, worker=s.worker), "casework")
    elif op == "overdue":
        s.actions[action_id] = "overdue"
        emit(ActionOverdue(action_id=action_id, due_at=s.clock, worker=s.worker), "casework")
    elif op == "done":
        late = s.actions[action_id] == "overdue"
        s.actions[action_id] = "done"
        emit(ActionCompleted(action_id=action_id, late=late, note=f"{CLIENT_NAME} did it"))
    elif op == "drop":
        s.actions[action_id] = "dropped"
        emit(ActionDropped(action_id=action_id, reason=f"{CLIENT_NAME} moved"))
    else:
        s.actions[action_id] = "open"
        emit(
            ActionReassigned(
                action_id=action_id,
                owner=ActionOwner(kind=ActionOwnerKind.CLIENT),
                due_at=due,
                reason=f"{CLIENT_NAME} will do it herself",
            )
        )


def _step_advocacy(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    """Advocacy opened, or an open one followed up, taken a step further or concluded."""
    op = c.choice(["open", "follow_up", "step", "conclude"] if s.advocacies else ["open"])
    next_date = (s.clock + timedelta(days=c.integer(1, 30))).date()
    if op == "open":
        s.advocacies_opened += 1
        advocacy_id = f"advocacy-{s.advocacies_opened}"
        s.advocacies[advocacy_id] = 1
        emit(
            AdvocacyOpened(
                advocacy_id=advocacy_id,
                barrier=c.choice(list(AdvocacyBarrier)),
                organisation="Benefits office",
                action=c.choice(list(AdvocacyAction)),
                consent_by=ConsentGiver.CLIENT,
                details=f"{CLIENT_NAME}'s benefit stopped",
                next_step=f"Call back about {CLIENT_NAME}",
                next_step_date=next_date,
            )
        )
        return
    advocacy_id = c.choice(sorted(s.advocacies))
    step = s.advocacies[advocacy_id]
    if op == "follow_up":
        emit(
            AdvocacyFollowUpDue(advocacy_id=advocacy_id, step=step, next_step_date=next_date),
            "casework",
        )
    elif op == "step":
        s.advocacies[advocacy_id] = step + 1
        emit(
            AdvocacyStepRecorded(
                advocacy_id=advocacy_id,
                step=step + 1,
                action=AdvocacyAction.APPEAL,
                note=f"Appeal for {CLIENT_NAME}",
                next_step="Tribunal",
                next_step_date=next_date,
            )
        )
    else:
        del s.advocacies[advocacy_id]
        emit(
            AdvocacyConcluded(
                advocacy_id=advocacy_id,
                outcome=c.choice(list(AdvocacyOutcome)),
                note=f"{CLIENT_NAME} won",
            )
        )


def _step_feedback(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    """The client's rating of a service, or of the plan when there is one."""
    s.feedback += 1
    words = f"{CLIENT_NAME} says they were kind"
    if s.plan_version and c.integer(0, 1):
        emit(
            ClientFeedbackRecorded(
                feedback_id=f"feedback-{s.feedback}",
                subject=FeedbackSubject.PLAN,
                plan_id=s.plan_id,
                plan_version=s.plan_version,
                rating=c.integer(1, 5),
                words=words,
                agrees_with_plan=bool(c.integer(0, 1)),
            )
        )
        return
    emit(
        ClientFeedbackRecorded(
            feedback_id=f"feedback-{s.feedback}",
            subject=FeedbackSubject.SERVICE,
            provider_id=c.choice(PROVIDERS),
            service_id="service-1",
            rating=c.integer(1, 5),
            words=words,
        )
    )


def _step_reopen(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.status = "open"
    emit(CaseReopened(reason="client returned"))


def _step_refer(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    referral_id = f"ref-{len(s.referrals) + 1}"
    s.referrals[referral_id] = "made"
    emit(
        ReferralMade(
            referral_id=referral_id,
            provider_id=c.choice(PROVIDERS),
            service_id="service-1",
            goal_id=c.choice(s.plan_goals),
        )
    )


def _pick_referral(s: CaseState, c: Chooser, *statuses: str) -> str:
    return c.choice(sorted(r for r, st in s.referrals.items() if st in statuses))


def _step_dispatch(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    referral_id = _pick_referral(s, c, "made", "dispatch_failed")
    if c.choice([True, True, False]):
        s.referrals[referral_id] = "sent"
        emit(
            ReferralDispatched(referral_id=referral_id, channel="email", attempts=1),
            "casework",
            "system",
        )
    else:
        s.referrals[referral_id] = "dispatch_failed"
        emit(
            ReferralDispatchFailed(referral_id=referral_id, attempts=1, error="mailbox full"),
            "casework",
            "system",
        )


def _step_respond(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    referral_id = _pick_referral(s, c, "sent")
    if c.choice([True, False]):
        s.referrals[referral_id] = "accepted"
        emit(ReferralAccepted(referral_id=referral_id), "casework", "system")
    else:
        s.referrals[referral_id] = "declined"
        emit(ReferralDeclined(referral_id=referral_id, reason="no capacity"), "casework", "system")


def _step_complete(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    referral_id = _pick_referral(s, c, "accepted")
    s.referrals[referral_id] = "completed"
    emit(ReferralCompleted(referral_id=referral_id), "casework", "system")


def _step_report(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    referral_id = _pick_referral(s, c, "accepted")
    emit(
        ProviderReportReceived(referral_id=referral_id, report=f"{CLIENT_NAME} attended"),
        "casework",
        "system",
    )


def _step_progress(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    emit(GoalProgressRecorded(goal_id=c.choice(s.plan_goals), status=c.choice(list(GoalStatus))))


def _step_evaluate(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.evaluations += 1
    emit(
        GoalsEvaluated(
            evaluation_id=f"eval-{s.evaluations}",
            evaluations=[
                GoalEvaluation(goal_id=g, outcome=c.choice(list(GoalOutcome)), reason="reviewed")
                for g in s.plan_goals
            ],
            next_step=c.choice(list(NextStep)),
        )
    )


def _step_transfer(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    s.transfers += 1
    to_team = c.choice(sorted(s.teams))
    s.transfer = (f"transfer-{s.transfers}", to_team)
    emit(TransferRequested(transfer_id=s.transfer[0], to_team=to_team, reason="moved district"))


def _step_transfer_answer(s: CaseState, c: Chooser, emit: _EmitFn) -> None:
    assert s.transfer is not None
    transfer_id, to_team = s.transfer
    s.transfer = None
    if c.choice([True, False]):
        s.team = to_team
        s.worker = c.choice(s.teams[to_team])
        emit(
            TransferAccepted(transfer_id=transfer_id, worker=s.worker, team=s.team),
            supervisor_of(to_team),
            "supervisor",
        )
    else:
        emit(
            TransferRejected(transfer_id=transfer_id, reason="no capacity"),
            supervisor_of(to_team),
            "supervisor",
        )


_STEPS = {
    "consent": _step_consent,
    "assess": _step_assess,
    "contact": _step_contact,
    "assign": _step_assign,
    "draft": _step_draft,
    "request_plan": _step_request_plan,
    "request_closure": _step_request_closure,
    "grant": _step_grant,
    "return": _step_return,
    "close": _step_close,
    "reopen": _step_reopen,
    "refer": _step_refer,
    "dispatch": _step_dispatch,
    "respond": _step_respond,
    "complete": _step_complete,
    "report": _step_report,
    "progress": _step_progress,
    "evaluate": _step_evaluate,
    "transfer": _step_transfer,
    "transfer_answer": _step_transfer_answer,
    "schedule_review": _step_schedule_review,
    "review_due": _step_review_due,
    "review_lapsed": _step_review_lapsed,
    "escalate": _step_escalate,
    "resolve_escalation": _step_resolve_escalation,
    "hold": _step_hold,
    "resume": _step_resume,
    "follow_up": _step_follow_up,
    "circle": _step_circle,
    "conference": _step_conference,
    "action": _step_action,
    "advocacy": _step_advocacy,
    "feedback": _step_feedback,
}
