"""Representative cases, driven through the workflow: used by the tests and to record
the histories that tests/workflows/test_replay.py replays."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from temporalio.testing import WorkflowEnvironment

from application.case_client import CaseClient
from cases import commands as c
from cases.policy import DEFAULT_POLICY, Policy
from events.vocabulary import (
    ApprovalKind,
    ClosureReason,
    ContactKind,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
    RiskLevel,
)
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL, ERIN, MAX


async def days_after_opening(cases: CaseClient, case_id: UUID, days: int) -> date:
    """A date on the case's own clock: contacts may not be dated before the case opened,
    and the time-skipping server starts at the wall clock, so no calendar date is safe."""
    opened = (await cases.state(case_id)).opened_at.date()
    return opened + timedelta(days=days)


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


async def closed_case(cases: CaseClient, provider_url: str) -> UUID:
    """Intake to closure: a declined referral, then an accepted one, contacts, evaluation."""
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
    for _ in range(100):  # let both dispatches be recorded before the case closes
        state = await cases.state(case_id)
        if all(r.dispatch_attempts for r in state.referrals.values()):
            break
    await cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True)
    )
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
