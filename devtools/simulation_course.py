"""Steps of a simulated case's course (devtools/simulation.py): consent, assessment,
contacts, assignment, plans and their approval, closure and reopening, progress and
evaluation, transfers, reviews, escalations and holds. `STEPS` maps each step's name
(as `_options` offers it) to the function taking it.
"""

from __future__ import annotations

from datetime import date, timedelta

from devtools.simulation_state import (
    CLIENT_NAME,
    PROVIDERS,
    CaseState,
    Chooser,
    EmitFn,
    supervisor_of,
)
from events.vocabulary import (
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseOnHold,
    CaseReopened,
    CaseResumed,
    ClientParticipation,
    ClosureReason,
    ConsentRecorded,
    ContactKind,
    ContactLogged,
    Domain,
    DomainNeed,
    DomainRating,
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    Goal,
    GoalEvaluation,
    GoalKind,
    GoalOutcome,
    GoalProgressRecorded,
    GoalsEvaluated,
    GoalStatus,
    GoalTerm,
    NextStep,
    PlanActivated,
    PlanDrafted,
    ReviewDue,
    ReviewLapsed,
    ReviewReason,
    ReviewScheduled,
    RiskLevel,
    SharedField,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)


def _step_consent(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    emit(
        ConsentRecorded(
            shared_fields=[c.choice(list(SharedField))], providers=[c.choice(PROVIDERS)]
        )
    )


def _step_assess(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_contact(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_assign(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    s.worker = c.choice(s.teams[s.team])
    emit(
        CaseAssigned(worker=s.worker, team=s.team, reason="balancing caseloads"),
        supervisor_of(s.team),
        "supervisor",
    )


def _step_draft(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_request_plan(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_request_closure(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    s.approvals += 1
    s.pending = (f"approval-{s.approvals}", "closure")
    s.closure_reason = c.choice(list(ClosureReason))
    emit(
        ApprovalRequested(
            approval_id=s.pending[0], kind=ApprovalKind.CLOSURE, closure_reason=s.closure_reason
        )
    )


def _step_grant(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_return(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _close(s: CaseState, emit: EmitFn, reason: ClosureReason) -> None:
    s.status = "closed"
    s.transfer = None
    s.review_due_at = None
    emit(CaseClosed(reason=reason, note=f"closed for {CLIENT_NAME}"))


def _step_close(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    _close(s, emit, c.choice(list(ClosureReason)))


def _step_schedule_review(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_review_due(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    assert s.review_due_at is not None
    emit(ReviewDue(due_at=s.review_due_at, assigned_worker=s.worker), "casework", "system")


def _step_review_lapsed(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    assert s.review_due_at is not None
    emit(
        ReviewLapsed(due_at=s.review_due_at, grace_ended_at=s.review_due_at + timedelta(days=7)),
        "casework",
        "system",
    )


def _step_escalate(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_resolve_escalation(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    assert s.escalation is not None
    emit(EscalationResolved(escalation_id=s.escalation[0], resolution="review done"))
    s.escalation = None


def _step_hold(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    s.on_hold = True
    emit(CaseOnHold(reason="client in hospital", until=s.clock + timedelta(days=30)))


def _step_resume(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    s.on_hold = False
    emit(CaseResumed(reason="client back home"))


def _step_reopen(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    s.status = "open"
    emit(CaseReopened(reason="client returned"))


def _step_progress(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    emit(GoalProgressRecorded(goal_id=c.choice(s.plan_goals), status=c.choice(list(GoalStatus))))


def _step_evaluate(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


def _step_transfer(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    s.transfers += 1
    to_team = c.choice(sorted(s.teams))
    s.transfer = (f"transfer-{s.transfers}", to_team)
    emit(TransferRequested(transfer_id=s.transfer[0], to_team=to_team, reason="moved district"))


def _step_transfer_answer(s: CaseState, c: Chooser, emit: EmitFn) -> None:
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


STEPS = {
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
}
