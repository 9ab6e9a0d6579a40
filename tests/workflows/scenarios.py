"""Representative cases, driven through the workflow: used by the tests and to record
the histories that tests/workflows/test_replay.py replays."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from temporalio.testing import WorkflowEnvironment

from application.case_client import CaseClient
from cases import commands as c
from cases.actors import Actor, Role
from cases.policy import DEFAULT_POLICY, Policy
from events.vocabulary import (
    ActionOwner,
    ActionOwnerKind,
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ApprovalKind,
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClientContact,
    ClosureReason,
    ConsentGiver,
    ContactKind,
    FeedbackSubject,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
    Participants,
    RiskLevel,
)
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL, ERIN, MAX
from workflows.case import CaseWorkflow

ROOT = Actor(staff_id="root", role=Role.ADMIN)
"""The agency's first admin, who alone may forget a client."""


async def days_after_opening(cases: CaseClient, case_id: UUID, days: int) -> date:
    """A date on the case's own clock: contacts may not be dated before the case opened,
    and the time-skipping server starts at the wall clock, so no calendar date is safe."""
    opened = (await cases.state(case_id)).opened_at.date()
    return opened + timedelta(days=days)


CLOSURE_APPROVED = c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True)


async def approve_closure_once_dispatched(
    cases: CaseClient, case_id: UUID, *, update_id: str | None = None
) -> None:
    """The supervisor approves the requested closure once every referral's dispatch is
    recorded (a closed case dispatches nothing more)."""
    for _ in range(100):
        if all(r.dispatch_attempts for r in (await cases.state(case_id)).referrals.values()):
            break
    await cases.execute(case_id, CLOSURE_APPROVED, update_id=update_id)


async def approved_plan(cases: CaseClient, provider_ids: tuple[str, ...] = ("shelter-1",)) -> UUID:
    cmd = inputs.open_case()
    await cases.open(cmd)
    await cases.execute(cmd.case_id, inputs.consent(providers=provider_ids))
    await cases.execute(cmd.case_id, inputs.assessment())
    await cases.execute(cmd.case_id, inputs.plan())
    await cases.execute(cmd.case_id, c.SubmitPlan(actor=ALICE))
    await cases.execute(
        cmd.case_id,
        c.DecideApproval(
            actor=CAROL, kind=ApprovalKind.PLAN, approve=False, reasons=["add a crisis contact"]
        ),
    )
    await cases.execute(cmd.case_id, inputs.plan())
    await cases.execute(cmd.case_id, c.SubmitPlan(actor=ALICE))
    await cases.execute(
        cmd.case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    )
    return cmd.case_id


async def escalated_case(cases: CaseClient, env: WorkflowEnvironment) -> UUID:
    """A plan approved, then nobody acts: due, lapsed, escalated twice, then reassessed."""
    case_id = await approved_plan(cases)
    await env.sleep(timedelta(days=30 + 7 + 7, hours=1))  # high risk: 30 days, grace, ladder
    await cases.execute(case_id, inputs.assessment())
    await cases.execute(
        case_id,
        c.LogContact(
            actor=ALICE,
            kind=ContactKind.PHONE,
            contact_date=await days_after_opening(cases, case_id, 45),
        ),
    )
    return case_id


async def closed_case(
    cases: CaseClient, provider_url: str, *, closing_update_id: str | None = None
) -> UUID:
    """Intake to closure: a declined referral, then an accepted one, contacts, evaluation.

    `closing_update_id`: the id of the Update carrying the closure's approval."""
    case_id = await approved_plan(cases)
    await cases.execute(case_id, inputs.refer(url=provider_url))
    await cases.execute(
        case_id,
        c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="declined", reason="full"),
    )
    await cases.execute(case_id, inputs.refer(url=provider_url))
    await cases.execute(
        case_id, c.ReferralReply(actor=ALICE, referral_id="referral-2", outcome="accepted")
    )
    for day in (2, 9, 16):
        await cases.execute(
            case_id,
            c.LogContact(
                actor=ALICE,
                kind=ContactKind.HOME_VISIT,
                contact_date=await days_after_opening(cases, case_id, day),
            ),
        )
    await cases.execute(
        case_id, c.RecordProgress(actor=ALICE, goal_id="housing", status=GoalStatus.MET)
    )
    await cases.execute(
        case_id,
        c.Evaluate(
            actor=ALICE,
            evaluations=[
                GoalEvaluation(goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy")
            ],
            next_step=NextStep.CLOSE,
        ),
    )
    await cases.execute(case_id, c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET))
    await approve_closure_once_dispatched(cases, case_id, update_id=closing_update_id)
    return case_id


async def busy_case(cases: CaseClient, provider_url: str) -> UUID:
    """The commands the other scenarios leave out: a provider's report, a hold and its end,
    a policy change that moves the review, a transfer to another team, a reassignment."""
    case_id = await approved_plan(cases)
    await cases.execute(case_id, inputs.refer(url=provider_url))
    await cases.execute(
        case_id, c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted")
    )
    await cases.execute(
        case_id, c.ProviderReport(actor=ALICE, referral_id="referral-1", report="attended intake")
    )
    opened_at = (await cases.state(case_id)).opened_at
    await cases.execute(
        case_id,
        c.HoldCase(actor=ALICE, reason="in hospital", until=opened_at + timedelta(days=20)),
    )
    await cases.execute(case_id, c.ResumeCase(actor=ALICE, reason="discharged early"))
    intervals = {**DEFAULT_POLICY.review_interval, RiskLevel.HIGH: timedelta(days=14)}
    await cases.execute(
        case_id, c.ApplyPolicy(actor=MAX, policy=Policy(version=2, review_interval=intervals))
    )
    await cases.execute(
        case_id, c.RequestTransfer(actor=ALICE, to_team="south", to_worker=ERIN, reason="moved")
    )
    await cases.execute(case_id, c.ReplyTransfer(actor=ERIN, accept=True))
    await cases.execute(
        case_id,
        c.LogContact(
            actor=ERIN,
            kind=ContactKind.OFFICE,
            contact_date=await days_after_opening(cases, case_id, 3),
        ),
    )
    await cases.execute(case_id, c.Assign(actor=MAX, assignee=ALICE, reason="back to north"))
    return case_id


async def reopened_case(cases: CaseClient, provider_url: str) -> UUID:
    """A closed case reopened: its second run starts from the state folded from the log."""
    case_id = await closed_case(cases, provider_url)
    await cases.handle(case_id).result()
    await cases.execute(case_id, c.Reopen(actor=CAROL, reason="client relapsed"))
    await cases.execute(
        case_id,
        c.LogContact(
            actor=ALICE,
            kind=ContactKind.PHONE,
            contact_date=await days_after_opening(cases, case_id, 30),
        ),
    )
    return case_id


async def circle_case(cases: CaseClient) -> UUID:
    """Intake to closure with the client's circle of support: their sister and their GP,
    consent to share the plan with the sister only, a case conference she takes part in that
    agrees an action for her, the plan and the decisions shared with her, the GP's details
    updated then removed, evaluation and closure."""
    case_id = await approved_plan(cases)
    sister = CircleMemberDetails(
        name="Mona Quennell",
        relationship="older sister",
        contact=ClientContact(phone="555-0199"),
    )
    await cases.execute(
        case_id, c.AddCircleMember(actor=ALICE, role=CircleRole.FAMILY_MEMBER, details=sister)
    )
    gp = CircleMemberDetails(name="Dr Okafor", organisation="Elm Row Surgery")
    await cases.execute(case_id, c.AddCircleMember(actor=ALICE, role=CircleRole.GP, details=gp))
    await cases.execute(
        case_id,
        c.RecordCircleConsent(
            actor=ALICE,
            member_id="member-1",
            shared=[CircleShare.PLAN, CircleShare.CONFERENCE_DECISIONS],
        ),
    )
    opened_at = (await cases.state(case_id)).opened_at
    await cases.execute(
        case_id,
        c.RecordConference(
            actor=CAROL,
            conference=c.ConferenceInput(
                held_on=opened_at.date(),
                client_attended=True,
                participants=Participants(staff=["alice", "carol"], circle=["member-1"]),
                decisions=["Mona drives Rosalind to the viewings"],
                actions=[
                    c.ActionInput(
                        goal_id="housing",
                        description="Drive Rosalind to the Elm Row viewing",
                        owner=ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona (sister)"),
                        due_at=opened_at + timedelta(days=14),
                    )
                ],
            ),
        ),
    )
    await cases.execute(
        case_id,
        c.ShareWithCircle(
            actor=ALICE,
            member_id="member-1",
            items=[CircleShare.PLAN, CircleShare.CONFERENCE_DECISIONS],
        ),
    )
    await cases.execute(
        case_id,
        c.UpdateCircleMember(actor=ALICE, member_id="member-2", contact=ClientContact(phone="1")),
    )
    await cases.execute(
        case_id, c.RemoveCircleMember(actor=ALICE, member_id="member-2", reason="changed GP")
    )
    await cases.execute(
        case_id,
        c.Evaluate(
            actor=ALICE,
            evaluations=[
                GoalEvaluation(goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy")
            ],
            next_step=NextStep.CLOSE,
        ),
    )
    await cases.execute(case_id, c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET))
    await cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True)
    )
    return case_id


async def practice_case(cases: CaseClient, env: WorkflowEnvironment, provider_url: str) -> UUID:
    """Issue 16's practice through the workflow: plan actions (one critical, left to go
    overdue and escalate, then done late; one dropped; one handed to the client's sister),
    advocacy with a lapsed next step followed up, an appeal and a win, the client's
    feedback on the referral and the plan, then evaluation and closure."""
    case_id = await approved_plan(cases)
    await cases.execute(case_id, inputs.refer(url=provider_url))
    await cases.execute(
        case_id, c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted")
    )
    opened_at = (await cases.state(case_id)).opened_at
    for description, crisis in (("Call the crisis line if needed", True), ("Find a GP", False)):
        await cases.execute(
            case_id,
            c.AddAction(
                actor=ALICE,
                goal_id="housing",
                description=description,
                owner=ActionOwner(kind=ActionOwnerKind.CLIENT),
                due_at=opened_at + timedelta(days=3),
                crisis_plan=crisis,
            ),
        )
    await cases.execute(
        case_id,
        c.OpenAdvocacy(
            actor=ALICE,
            barrier=AdvocacyBarrier.BENEFIT_STOPPED,
            organisation="Benefits office",
            action=AdvocacyAction.REQUEST,
            consent_by=ConsentGiver.CLIENT,
            details="Housing benefit stopped after a missed letter",
            next_step="Reconsideration decision",
            next_step_date=opened_at.date() + timedelta(days=4),
        ),
    )
    await env.sleep(timedelta(days=6))  # reminders, overdue, level 1, advocacy follow-up
    await cases.execute(case_id, c.CompleteAction(actor=ALICE, action_id="action-1"))
    await cases.execute(
        case_id, c.DropAction(actor=ALICE, action_id="action-2", reason="registered already")
    )
    await cases.execute(
        case_id,
        c.AddAction(
            actor=ALICE,
            goal_id="housing",
            description="Drive Rosalind to the viewing",
            owner=ActionOwner(kind=ActionOwnerKind.CLIENT),
            due_at=opened_at + timedelta(days=20),
        ),
    )
    await cases.execute(
        case_id,
        c.ReassignAction(
            actor=ALICE,
            action_id="action-3",
            owner=ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona (sister)"),
            due_at=opened_at + timedelta(days=25),
            reason="her sister has a car",
        ),
    )
    await cases.execute(
        case_id,
        c.RecordAdvocacyStep(
            actor=ALICE,
            advocacy_id="advocacy-1",
            action=AdvocacyAction.APPEAL,
            note="Reconsideration refused; appeal lodged",
            next_step="Tribunal hearing",
            next_step_date=opened_at.date() + timedelta(days=30),
        ),
    )
    await cases.execute(
        case_id,
        c.ConcludeAdvocacy(
            actor=ALICE,
            advocacy_id="advocacy-1",
            outcome=AdvocacyOutcome.RESOLVED,
            note="Benefit reinstated",
        ),
    )
    await cases.execute(
        case_id,
        c.RecordFeedback(
            actor=ALICE, subject=FeedbackSubject.REFERRAL, referral_id="referral-1", rating=2
        ),
    )
    await cases.execute(
        case_id,
        c.RecordFeedback(
            actor=ALICE, subject=FeedbackSubject.PLAN, rating=4, agrees_with_plan=True
        ),
    )
    await cases.execute(case_id, c.CompleteAction(actor=ALICE, action_id="action-3"))
    await cases.execute(
        case_id,
        c.Evaluate(
            actor=ALICE,
            evaluations=[
                GoalEvaluation(goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy")
            ],
            next_step=NextStep.CLOSE,
        ),
    )
    await cases.execute(case_id, c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET))
    await approve_closure_once_dispatched(cases, case_id)
    return case_id


async def forgotten_case(cases: CaseClient) -> tuple[UUID, str]:
    """A running case whose client is forgotten: ClientForgotten, then `shed_history` makes
    the run continue as new from its erased state. Returns the case and the shed run."""
    cmd = inputs.open_case()
    await cases.open(cmd)
    await cases.execute(cmd.case_id, inputs.consent())
    await cases.execute(
        cmd.case_id,
        c.LogContact(
            actor=ALICE,
            kind=ContactKind.PHONE,
            contact_date=await days_after_opening(cases, cmd.case_id, 1),
            notes="Called about the rent arrears",
        ),
    )
    run_id = (await cases.handle(cmd.case_id).describe()).run_id
    await cases.execute(cmd.case_id, c.ForgetClient(actor=ROOT, reason="erasure request"))
    await cases.handle(cmd.case_id).execute_update(CaseWorkflow.shed_history)
    return cmd.case_id, run_id


async def long_case(
    cases: CaseClient, contacts_at_most: int = 400, *, until_continued: bool = True
) -> tuple[UUID, str]:
    """A case with contacts logged until its run continues as new (PATCH_SHORTER_RUNS:
    at 1,000 history events, about 165 contacts here), or `contacts_at_most` of them in one
    run when not `until_continued`. Returns the case and its first run."""
    cmd = inputs.open_case()
    await cases.open(cmd)
    first_run = (await cases.handle(cmd.case_id).describe()).run_id
    opened = await days_after_opening(cases, cmd.case_id, 0)
    for n in range(contacts_at_most):
        await cases.execute(
            cmd.case_id,
            c.LogContact(
                actor=ALICE,
                kind=ContactKind.PHONE,
                contact_date=opened + timedelta(days=n % 60),
                notes=f"weekly check-in {n}",
            ),
        )
        continued = (await cases.handle(cmd.case_id).describe()).run_id != first_run
        if continued and until_continued:
            return cmd.case_id, first_run
        if continued:
            raise AssertionError(f"the run continued as new after {n + 1} contacts")
    if until_continued:
        raise AssertionError(f"no continue-as-new after {contacts_at_most} contacts")
    return cmd.case_id, first_run
