"""What needs attention on a case (cases/attention.py): the rule behind the top of the
case page, over hand-made states and a fixed clock."""

from __future__ import annotations

from datetime import date, timedelta

from cases.attention import DUE_SOON, Concern, needs_attention
from cases.state import (
    ActionStatus,
    Advocacy,
    CaseState,
    CaseStatus,
    Escalation,
    PendingTransfer,
    PlanAction,
    PlanStatus,
    Referral,
    ReferralStatus,
)
from events.choices import AdvocacyAction, AdvocacyBarrier, AdvocacyOutcome, ConsentGiver
from events.vocabulary import ActionOwner, ActionOwnerKind, EscalationSubject
from tests.cases.test_rules import NOW, opened, with_active_plan


def _action(n: int, due_in: timedelta, status: ActionStatus = ActionStatus.OPEN) -> PlanAction:
    return PlanAction(
        action_id=f"action-{n}", goal_id="housing", description=f"Step {n}",
        owner=ActionOwner(kind=ActionOwnerKind.CASEWORKER), due_at=NOW + due_in,
        status=status, added_at=NOW - timedelta(days=30), added_by="alice",
    )  # fmt: skip


def _referral(n: int, status: ReferralStatus) -> Referral:
    return Referral(
        referral_id=f"referral-{n}", provider_id="food-bank", service_id="parcels",
        goal_id="housing", shared_fields=[], status=status, made_at=NOW - timedelta(days=n),
        made_by="alice", updated_at=NOW - timedelta(days=n),
    )  # fmt: skip


def _escalation(subject_id: str, level: int) -> Escalation:
    return Escalation(
        escalation_id=f"esc-{subject_id}", subject=EscalationSubject.REVIEW,
        subject_id=subject_id, level=level, notify="supervisor", reason="review lapsed",
        raised_at=NOW - timedelta(days=2), level_raised_at=NOW - timedelta(days=1),
    )  # fmt: skip


def concerns(state: CaseState) -> list[tuple[Concern, str]]:
    return [(a.concern, a.subject) for a in needs_attention(state, NOW)]


def test_a_quiet_case_needs_nothing() -> None:
    state = with_active_plan()
    state.next_review_due = NOW + DUE_SOON + timedelta(days=1)
    assert concerns(state) == []


def test_the_review_overdue_or_due_within_a_week() -> None:
    state = opened()
    state.next_review_due = NOW - timedelta(minutes=1)
    assert concerns(state) == [(Concern.REVIEW_OVERDUE, "review")]
    state.next_review_due = NOW + timedelta(days=6)
    [item] = needs_attention(state, NOW)
    assert (item.concern, item.when, item.section, item.overdue) == (
        Concern.REVIEW_DUE, NOW + timedelta(days=6), "summary", False,
    )  # fmt: skip


def test_actions_overdue_then_due_soon_the_earliest_first_closed_ones_never() -> None:
    state = with_active_plan()
    state.next_review_due = None
    state.actions = {
        a.action_id: a
        for a in (
            _action(1, timedelta(days=5)),
            _action(2, timedelta(days=2)),
            _action(3, timedelta(days=20)),
            _action(4, -timedelta(days=1), ActionStatus.OVERDUE),
            _action(5, -timedelta(days=3), ActionStatus.DONE),
            _action(6, timedelta(days=1), ActionStatus.DROPPED),
        )
    }
    assert concerns(state) == [
        (Concern.ACTION_OVERDUE, "action-4"),
        (Concern.ACTION_DUE, "action-2"),
        (Concern.ACTION_DUE, "action-1"),
    ]
    assert needs_attention(state, NOW)[1].what == "Step 2"
    assert {a.section for a in needs_attention(state, NOW)} == {"plan"}


def test_escalations_first_the_highest_level_first() -> None:
    state = opened()
    state.next_review_due = NOW - timedelta(days=1)
    state.escalations = {e.escalation_id: e for e in (_escalation("a", 1), _escalation("b", 3))}
    found = needs_attention(state, NOW)
    assert [(a.concern, a.level) for a in found] == [
        (Concern.ESCALATION, 3), (Concern.ESCALATION, 1), (Concern.REVIEW_OVERDUE, None),
    ]  # fmt: skip
    assert found[0].what == "review"


def test_referrals_waiting_for_a_reply_or_not_sent() -> None:
    state = with_active_plan()
    state.next_review_due = None
    state.referrals = {
        r.referral_id: r
        for r in (
            _referral(1, ReferralStatus.DISPATCHED),
            _referral(2, ReferralStatus.ACCEPTED),
            _referral(3, ReferralStatus.DISPATCH_FAILED),
            _referral(4, ReferralStatus.MADE),
        )
    }
    assert concerns(state) == [
        (Concern.REFERRAL_FAILED, "referral-3"),
        (Concern.REFERRAL_WAITING, "referral-4"),
        (Concern.REFERRAL_WAITING, "referral-1"),
    ]


def test_a_draft_plan_returned_waiting_or_not_submitted() -> None:
    state = with_active_plan()
    state.next_review_due = None
    assert state.active_plan is not None
    draft = state.active_plan.model_copy(update={"plan_version": 2})
    for status, concern in (
        (PlanStatus.RETURNED, Concern.PLAN_RETURNED),
        (PlanStatus.SUBMITTED, Concern.PLAN_SUBMITTED),
        (PlanStatus.DRAFT, Concern.PLAN_DRAFT),
    ):
        state.draft_plan = draft.model_copy(
            update={"status": status, "returned_reasons": ["Add a crisis plan"]}
        )
        [item] = needs_attention(state, NOW)
        assert (item.concern, item.subject, item.section) == (concern, "v2", "plan")
    state.draft_plan = draft.model_copy(
        update={"status": PlanStatus.RETURNED, "returned_reasons": ["a", "b"]}
    )
    assert needs_attention(state, NOW)[0].what == "a; b"


def test_a_transfer_waiting_and_late_advocacy() -> None:
    state = opened()
    state.next_review_due = None
    state.pending_transfer = PendingTransfer(
        transfer_id="transfer-1", to_worker=None, to_team="north", reason="moved",
        requested_by="alice", requested_at=NOW - timedelta(hours=3),
    )  # fmt: skip
    late = Advocacy(
        advocacy_id="advocacy-1", barrier=AdvocacyBarrier.BENEFIT_STOPPED, organisation="DWP",
        actions=[AdvocacyAction.APPEAL], consent_by=ConsentGiver.CLIENT,
        next_step="Send the appeal", next_step_date=date(2026, 11, 20),
        follow_up_at=NOW, opened_at=NOW - timedelta(days=10), opened_by="alice",
    )  # fmt: skip
    done = late.model_copy(update={"advocacy_id": "advocacy-2",
                                   "outcome": AdvocacyOutcome.RESOLVED})  # fmt: skip
    state.advocacy = {"advocacy-1": late, "advocacy-2": done}
    assert concerns(state) == [
        (Concern.ADVOCACY_OVERDUE, "advocacy-1"),
        (Concern.TRANSFER_WAITING, "transfer-1"),
    ]


def test_a_closed_case_needs_nothing() -> None:
    state = opened()
    state.next_review_due = NOW - timedelta(days=1)
    state.status = CaseStatus.CLOSED
    assert concerns(state) == []
