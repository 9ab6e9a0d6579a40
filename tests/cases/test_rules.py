"""The pure case rules, without any server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cases import commands as c
from cases import decide as rules
from cases.actors import Actor
from cases.consent import late_dispatch_refusal
from cases.evolve import evolve, open_state
from cases.scoring import score
from cases.state import CaseState, CaseStatus, PlanStatus, ReferralStatus
from events.registry import DomainEvent
from events.vocabulary import (
    ApprovalKind,
    CaseNoteRecorded,
    CaseOpened,
    ClosureReason,
    ContactKind,
    Domain,
    DomainRating,
    GoalEvaluation,
    GoalOutcome,
    NextStep,
    RiskLevel,
)
from tests.cases import inputs
from tests.cases.people import ALICE, AUDREY, BOB, CAROL, DAN, ERIN, MAX, SAM

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def apply(state: CaseState, actor: Actor, events: list[DomainEvent]) -> CaseState:
    for event in events:
        evolve(state, event, actor.staff_id, NOW)
    return state


def plan_status(state: CaseState) -> PlanStatus | None:
    return state.draft_plan.status if state.draft_plan else None


def status(state: CaseState) -> CaseStatus:
    return state.status


def opened() -> CaseState:
    [event] = rules.decide_open(inputs.open_case())
    assert isinstance(event, CaseOpened)
    return open_state(event, ALICE.staff_id, NOW)


def with_active_plan() -> CaseState:
    state = opened()
    apply(state, ALICE, rules.decide_consent(state, inputs.consent()))
    cmd = inputs.assessment()
    apply(state, ALICE, rules.decide_assessment(state, cmd, score(cmd.assessment.domains)))
    apply(state, ALICE, rules.decide_draft_plan(state, inputs.plan()))
    apply(state, ALICE, rules.decide_submit_plan(state, c.SubmitPlan(actor=ALICE)))
    approve = c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    apply(state, CAROL, rules.decide_approval(state, approve))
    return state


def test_open_assigns_the_team_of_the_assignee() -> None:
    state = opened()
    assert (state.assigned_worker, state.team, state.status) == ("alice", "north", CaseStatus.OPEN)


@pytest.mark.parametrize(
    ("actor", "reason"),
    [(ERIN, "not in the case's team"), (AUDREY, "may not open"), (MAX, None)],
)
def test_who_may_open(actor: Actor, reason: str | None) -> None:
    cmd = inputs.open_case(actor=actor, assignee=ALICE)
    if reason is None:
        assert rules.decide_open(cmd)
    else:
        with pytest.raises(rules.CommandRejected, match=reason):
            rules.decide_open(cmd)


def test_cases_are_not_assigned_to_managers() -> None:
    with pytest.raises(rules.CommandRejected, match="assignee"):
        rules.decide_open(inputs.open_case(actor=MAX, assignee=MAX))


def test_a_plan_needs_an_assessment_first() -> None:
    with pytest.raises(rules.CommandRejected, match="record an assessment first"):
        rules.decide_draft_plan(opened(), inputs.plan())


def test_only_the_assigned_worker_or_team_supervisor_works_the_case() -> None:
    state = opened()
    with pytest.raises(rules.CommandRejected, match="not the case's assigned worker"):
        rules.decide_consent(state, inputs.consent(actor=BOB))
    with pytest.raises(rules.CommandRejected, match="not in the case's team"):
        rules.decide_consent(state, inputs.consent(actor=ERIN))
    with pytest.raises(rules.CommandRejected, match="auditor"):
        rules.decide_consent(state, inputs.consent(actor=AUDREY))
    assert rules.decide_consent(state, inputs.consent(actor=CAROL))


def test_plan_approval_rules() -> None:
    state = opened()
    cmd = inputs.assessment()
    apply(state, ALICE, rules.decide_assessment(state, cmd, score(cmd.assessment.domains)))
    apply(state, CAROL, rules.decide_draft_plan(state, inputs.plan(actor=CAROL)))
    with pytest.raises(rules.CommandRejected, match="client has not agreed"):
        state2 = opened()
        apply(state2, ALICE, rules.decide_assessment(state2, cmd, score(cmd.assessment.domains)))
        apply(state2, ALICE, rules.decide_draft_plan(state2, inputs.plan(agreed=False)))
        rules.decide_submit_plan(state2, c.SubmitPlan(actor=ALICE))
    apply(state, ALICE, rules.decide_submit_plan(state, c.SubmitPlan(actor=ALICE)))
    assert plan_status(state) is PlanStatus.SUBMITTED
    with pytest.raises(rules.CommandRejected, match="waiting for approval"):
        rules.decide_draft_plan(state, inputs.plan())
    approve = c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    with pytest.raises(rules.CommandRejected, match="wrote plan v1 and may not approve it"):
        rules.decide_approval(state, approve)
    with pytest.raises(rules.CommandRejected, match="may not approve cases"):
        rules.decide_approval(state, approve.model_copy(update={"actor": BOB}))
    with pytest.raises(rules.CommandRejected, match="not in the case's team"):
        rules.decide_approval(state, approve.model_copy(update={"actor": SAM}))
    with pytest.raises(rules.CommandRejected, match="reasons"):
        rules.decide_approval(state, approve.model_copy(update={"actor": DAN, "approve": False}))
    returned = c.DecideApproval(
        actor=DAN, kind=ApprovalKind.PLAN, approve=False, reasons=["target date too far"]
    )
    apply(state, DAN, rules.decide_approval(state, returned))
    assert plan_status(state) is PlanStatus.RETURNED
    with pytest.raises(rules.CommandRejected, match="revise it"):
        rules.decide_submit_plan(state, c.SubmitPlan(actor=ALICE))
    apply(state, ALICE, rules.decide_draft_plan(state, inputs.plan()))
    apply(state, ALICE, rules.decide_submit_plan(state, c.SubmitPlan(actor=ALICE)))
    apply(state, DAN, rules.decide_approval(state, approve.model_copy(update={"actor": DAN})))
    assert state.active_plan is not None and state.active_plan.plan_version == 2
    assert state.draft_plan is None and state.approvals == {}


def test_referrals_respect_consent_and_goals() -> None:
    state = with_active_plan()
    with pytest.raises(rules.CommandRejected, match="not consented to share with food-bank"):
        rules.decide_refer(state, inputs.refer(provider="food-bank"))
    outside = inputs.refer().model_copy(update={"shared_fields": ["health"]})
    with pytest.raises(rules.CommandRejected, match=r"shared_fields.*health"):
        rules.decide_refer(state, outside)
    with pytest.raises(rules.CommandRejected, match="goal_id"):
        rules.decide_refer(state, inputs.refer().model_copy(update={"goal_id": "nope"}))
    apply(state, ALICE, rules.decide_refer(state, inputs.refer()))
    with pytest.raises(rules.CommandRejected, match="still made"):
        rules.decide_refer(state, inputs.refer())
    declined = c.ReferralReply(
        actor=ALICE, referral_id="referral-1", outcome="declined", reason="no beds"
    )
    with pytest.raises(rules.CommandRejected, match="cannot be completed"):
        rules.decide_referral_reply(state, declined.model_copy(update={"outcome": "completed"}))
    apply(state, ALICE, rules.decide_referral_reply(state, declined))
    assert state.referrals["referral-1"].status is ReferralStatus.DECLINED
    apply(state, ALICE, rules.decide_refer(state, inputs.refer()))
    assert set(state.referrals) == {"referral-1", "referral-2"}


def test_evaluation_covers_every_goal_and_closure_needs_approval() -> None:
    state = with_active_plan()
    with pytest.raises(rules.CommandRejected, match="not in the active plan"):
        rules.decide_evaluate(
            state,
            c.Evaluate(
                actor=ALICE,
                evaluations=[GoalEvaluation(goal_id="x", outcome=GoalOutcome.MET, reason="r")],
                next_step=NextStep.CLOSE,
            ),
        )
    evaluation = c.Evaluate(
        actor=ALICE,
        evaluations=[GoalEvaluation(goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy")],
        next_step=NextStep.CLOSE,
    )
    apply(state, ALICE, rules.decide_evaluate(state, evaluation))
    apply(
        state,
        ALICE,
        rules.decide_request_closure(
            state, c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET)
        ),
    )
    approve = c.DecideApproval(actor=ALICE, kind=ApprovalKind.CLOSURE, approve=True)
    with pytest.raises(rules.CommandRejected, match="may not approve"):
        rules.decide_approval(state, approve)
    apply(state, CAROL, rules.decide_approval(state, approve.model_copy(update={"actor": CAROL})))
    assert state.status is CaseStatus.CLOSED and state.closure_reason is ClosureReason.GOALS_MET
    with pytest.raises(rules.CommandRejected, match="the case is closed"):
        rules.decide_contact(
            state, c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=date(2026, 12, 1))
        )
    with pytest.raises(rules.CommandRejected, match="may not reopen"):
        rules.decide_reopen(state, c.Reopen(actor=ALICE, reason="relapse"))
    apply(state, CAROL, rules.decide_reopen(state, c.Reopen(actor=CAROL, reason="relapse")))
    assert status(state) is CaseStatus.OPEN and state.reopened == 1


def test_transfer_to_another_team() -> None:
    state = opened()
    request = c.RequestTransfer(actor=ALICE, to_team="south", to_worker=ERIN, reason="moved")
    apply(state, ALICE, rules.decide_transfer(state, request))
    with pytest.raises(rules.CommandRejected, match="may not answer"):
        rules.decide_transfer_reply(state, c.ReplyTransfer(actor=BOB, accept=True))
    apply(state, ERIN, rules.decide_transfer_reply(state, c.ReplyTransfer(actor=ERIN, accept=True)))
    assert (state.assigned_worker, state.team, state.pending_transfer) == ("erin", "south", None)


def test_assign_within_team_only_by_supervisor() -> None:
    state = opened()
    with pytest.raises(rules.CommandRejected, match="may not assign"):
        rules.decide_assign(state, c.Assign(actor=ALICE, assignee=BOB, reason="leave"))
    with pytest.raises(rules.CommandRejected, match="is a transfer"):
        rules.decide_assign(state, c.Assign(actor=CAROL, assignee=ERIN, reason="leave"))
    apply(
        state,
        CAROL,
        rules.decide_assign(state, c.Assign(actor=CAROL, assignee=BOB, reason="leave")),
    )
    assert state.assigned_worker == "bob"


@pytest.mark.parametrize(
    ("ratings", "risk"),
    [
        ({Domain.HOUSING: 4}, RiskLevel.CRISIS),
        ({Domain.FAMILY: 4}, RiskLevel.HIGH),
        ({Domain.MENTAL_HEALTH: 3}, RiskLevel.HIGH),
        ({Domain.FAMILY: 3, Domain.INCOME: 3, Domain.CULTURE: 3}, RiskLevel.HIGH),
        ({Domain.FAMILY: 3}, RiskLevel.MEDIUM),
        ({d: 1 for d in Domain}, RiskLevel.MEDIUM),
        ({Domain.FAMILY: 2, Domain.INCOME: 1}, RiskLevel.LOW),
    ],
)
def test_scoring_rules(ratings: dict[Domain, int], risk: RiskLevel) -> None:
    result = score({d: DomainRating(rating=r) for d, r in ratings.items()})
    assert result.risk_level is risk
    assert {n.domain for n in result.needs} == set(ratings)


def test_a_transfer_naming_no_worker_is_taken_by_a_caseworker_of_the_team() -> None:
    state = opened()
    request = c.RequestTransfer(actor=ALICE, to_team="south", reason="moved south")
    apply(state, ALICE, rules.decide_transfer(state, request))
    with pytest.raises(rules.CommandRejected, match="names no worker"):
        rules.decide_transfer_reply(state, c.ReplyTransfer(actor=SAM, accept=True))
    with pytest.raises(rules.CommandRejected, match="may not answer"):
        rules.decide_transfer_reply(state, c.ReplyTransfer(actor=BOB, accept=True))
    apply(state, ERIN, rules.decide_transfer_reply(state, c.ReplyTransfer(actor=ERIN, accept=True)))
    assert (state.assigned_worker, state.team) == ("erin", "south")


def test_case_notes_by_anyone_of_the_team_numbered_in_order() -> None:
    state = opened()
    # Bob covers for Alice: a colleague of the team may write a note, not only its worker.
    for author in (ALICE, BOB, CAROL, MAX):
        apply(state, author, rules.decide_note(state, c.RecordNote(actor=author, text="x")))
    assert state.notes == 4
    [event] = rules.decide_note(state, c.RecordNote(actor=ALICE, text="called the GP"))
    assert isinstance(event, CaseNoteRecorded)
    assert (event.note_id, event.text) == ("note-5", "called the GP")
    for outsider in (ERIN, SAM, AUDREY):
        with pytest.raises(rules.CommandRejected):
            rules.decide_note(state, c.RecordNote(actor=outsider, text="x"))
    with pytest.raises(ValueError, match="text"):
        c.RecordNote(actor=ALICE, text="   ")


def test_no_note_on_a_closed_case() -> None:
    state = opened()
    state.status = CaseStatus.CLOSED
    with pytest.raises(rules.CommandRejected, match="closed"):
        rules.decide_note(state, c.RecordNote(actor=ALICE, text="x"))


def test_a_command_sent_for_another_version_is_refused() -> None:
    state = opened()
    rules.check_version(state, c.RecordNote(actor=ALICE, text="x"))  # no version: no check
    rules.check_version(
        state, c.RecordNote(actor=ALICE, text="x", expected_version=state.stream_version)
    )
    with pytest.raises(rules.VersionConflict, match="expected_version") as refused:
        rules.check_version(
            state, c.RecordNote(actor=ALICE, text="x", expected_version=state.stream_version + 1)
        )
    assert refused.value.current == state.stream_version


def test_a_referral_folded_from_the_log_goes_out_only_with_consent_on_an_open_case() -> None:
    state = with_active_plan()
    apply(state, ALICE, rules.decide_refer(state, inputs.refer()))
    referral = state.referrals["referral-1"]
    assert late_dispatch_refusal(state, referral) is None
    closed = state.model_copy(update={"status": CaseStatus.CLOSED})
    assert late_dispatch_refusal(closed, referral) == "not sent: the case is closed"
    apply(state, ALICE, rules.decide_consent(state, inputs.consent(providers=("food-bank",))))
    assert late_dispatch_refusal(state, referral) == (
        "not sent: the client no longer consents to share with shelter-1"
    )
