"""Timed reassessment and escalation, in the time-skipping environment.

Time jumps with `env.sleep`: a 60-day review timer passes in milliseconds.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from application.case_client import CaseClient, CaseCommandRejected
from cases import commands as c
from cases.policy import DEFAULT_POLICY
from cases.state import CaseState
from devtools.provider_simulator import Behaviour, ProviderSimulator
from directory import add_staff, add_team, bootstrap_admin
from events.store import EventStore
from events.vocabulary import (
    ApprovalKind,
    ClosureReason,
    Domain,
    DomainRating,
    RiskLevel,
)
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL, MAX
from tests.conftest import time_skipping_server
from tests.workflows.conftest import case_harness

DAY = timedelta(days=1)


def medium_assessment(family: int = 3, mental: int = 1) -> c.RecordAssessment:
    return c.RecordAssessment(
        actor=ALICE,
        assessment=c.AssessmentInput(
            domains={
                Domain.FAMILY: DomainRating(rating=family),
                Domain.MENTAL_HEALTH: DomainRating(rating=mental),
                Domain.INCOME: DomainRating(rating=1),
            }
        ),
    )


class Harness:
    def __init__(
        self, env: WorkflowEnvironment, cases: CaseClient, store: EventStore, sim: ProviderSimulator
    ) -> None:
        self.env, self.cases, self.store, self.sim = env, cases, store, sim

    async def types(self, case_id: uuid.UUID) -> list[str]:
        return [e.event_type for e in await self.store.read_stream(f"case-{case_id}")]

    async def events(self, case_id: uuid.UUID, event_type: str) -> list[dict[str, Any]]:
        return [
            {**e.data, "_at": e.occurred_at}
            for e in await self.store.read_stream(f"case-{case_id}")
            if e.event_type == event_type
        ]

    async def state(self, case_id: uuid.UUID) -> CaseState:
        return await self.cases.state(case_id)

    async def settle(self) -> None:
        """Let the worker finish what the last time jump set off."""
        await self.env.sleep(timedelta(seconds=1))


@pytest.fixture
async def harness(
    sealed_store: EventStore,
) -> AsyncIterator[Harness]:
    store = sealed_store
    async with (
        ProviderSimulator() as sim,
        time_skipping_server() as env,
        case_harness(env, store) as cases,
    ):
        admin = await bootstrap_admin(store, "root", "Agency admin")
        actor = admin.as_actor()
        await add_team(store, actor, "north", "North team")
        await add_staff(
            store, actor, "alice", "Alice", "caseworker", "north", sim.notification_url("alice")
        )
        await add_staff(
            store, actor, "carol", "Carol", "supervisor", "north", sim.notification_url("carol")
        )
        await add_staff(store, actor, "max", "Max", "manager", None, sim.notification_url("max"))
        yield Harness(env, cases, store, sim)


async def open_medium_case(h: Harness) -> uuid.UUID:
    cmd = inputs.open_case()
    await h.cases.open(cmd)
    result = await h.cases.execute(cmd.case_id, medium_assessment())
    assert result.detail["risk_level"] == "medium"
    return cmd.case_id


async def test_review_goes_due_lapses_escalates_and_resolves(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    state = await h.state(case_id)
    assessed_at = state.assessments[-1].recorded_at
    due = assessed_at + timedelta(days=60)
    assert state.next_review_due == due

    await h.env.sleep(timedelta(days=59))
    assert "ReviewDue" not in await h.types(case_id)
    await h.env.sleep(DAY + timedelta(minutes=1))
    [review_due] = await h.events(case_id, "ReviewDue")
    assert review_due["assigned_worker"] == "alice"

    # Grace period (7 days) ends: lapsed, and level 1 at that exact time.
    await h.env.sleep(timedelta(days=7))
    [lapsed] = await h.events(case_id, "ReviewLapsed")
    [level1] = await h.events(case_id, "EscalationRaised")
    assert level1["level"] == 1 and level1["notify"] == "supervisor"
    assert level1["_at"] == lapsed["_at"]  # appended together, at the lapse
    assert lapsed["grace_ended_at"] == (due + DEFAULT_POLICY.review_grace).isoformat().replace(
        "+00:00", "Z"
    )
    assert abs(lapsed["_at"] - (due + DEFAULT_POLICY.review_grace)) < timedelta(seconds=1)

    # The ladder's next level after its delay (7 days): the manager.
    await h.env.sleep(timedelta(days=7))
    raised = await h.events(case_id, "EscalationRaised")
    assert [e["level"] for e in raised] == [1, 2]
    assert raised[1]["notify"] == "manager"
    assert abs(raised[1]["_at"] - raised[0]["_at"] - timedelta(days=7)) < timedelta(seconds=1)
    await h.settle()
    assert h.sim.stored_per_key() and set(h.sim.stored_per_key().values()) == {1}
    assert [n.idempotency_key.rsplit(":", 1)[1] for n in h.sim.notifications_for("carol")] == [
        "carol"
    ]
    assert len(h.sim.notifications_for("max")) == 1

    # The reassessment resolves the escalation and re-arms the schedule.
    await h.cases.execute(case_id, medium_assessment())
    [resolved] = await h.events(case_id, "EscalationResolved")
    assert resolved["resolution"] == "review recorded"
    state = await h.state(case_id)
    assert state.escalations == {}
    assert state.next_review_due == state.assessments[-1].recorded_at + timedelta(days=60)
    assert (await h.events(case_id, "ReviewScheduled"))[-1]["reason"] == "assessed"


async def test_raising_risk_moves_the_review_date(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    await h.env.sleep(timedelta(days=3))
    await h.cases.execute(case_id, medium_assessment(mental=3))  # mental health 3: high
    state = await h.state(case_id)
    assert state.risk_level is RiskLevel.HIGH
    assert state.next_review_due == state.assessments[-1].recorded_at + timedelta(days=30)
    assert (await h.events(case_id, "ReviewScheduled"))[-1]["reason"] == "risk_changed"


async def test_on_hold_pauses_the_review_clock(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    due_before = (await h.state(case_id)).next_review_due
    assert due_before is not None
    await h.env.sleep(timedelta(days=50))
    now = (await h.state(case_id)).assessments[-1].recorded_at + timedelta(days=50)
    until = now + timedelta(days=30)
    await h.cases.execute(case_id, c.HoldCase(actor=ALICE, reason="in hospital", until=until))
    with pytest.raises(CaseCommandRejected, match="already on hold"):
        await h.cases.execute(case_id, c.HoldCase(actor=ALICE, reason="again", until=until))
    await h.env.sleep(timedelta(days=29))
    assert "ReviewDue" not in await h.types(case_id)
    await h.env.sleep(timedelta(days=2))
    assert "CaseResumed" in await h.types(case_id)
    state = await h.state(case_id)
    assert state.hold is None and state.next_review_due is not None
    # The clock resumed where it stopped: due ~30 days later than before.
    shift = state.next_review_due - due_before
    assert timedelta(days=29) < shift < timedelta(days=31)
    assert "ReviewDue" not in await h.types(case_id)


async def test_a_closed_case_raises_nothing(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    await h.cases.execute(case_id, c.RequestClosure(actor=ALICE, reason=ClosureReason.MOVED_AWAY))
    await h.cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True)
    )
    before = await h.types(case_id)
    await h.env.sleep(timedelta(days=400))
    assert await h.types(case_id) == before
    assert not {"ReviewDue", "ReviewLapsed", "EscalationRaised"} & set(before)


async def test_an_undecided_approval_escalates_and_resolves(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    await h.cases.execute(case_id, inputs.plan())
    await h.cases.execute(case_id, c.SubmitPlan(actor=ALICE))
    await h.env.sleep(DEFAULT_POLICY.approval_deadline + timedelta(hours=1))
    [raised] = await h.events(case_id, "EscalationRaised")
    assert raised["subject"] == "approval" and raised["subject_id"] == "approval-1"
    await h.cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    )
    [resolved] = await h.events(case_id, "EscalationResolved")
    assert resolved["resolution"] == "approval decided"


async def test_a_referral_without_reply_is_followed_up(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    await h.cases.execute(case_id, inputs.consent())
    await h.cases.execute(case_id, inputs.plan())
    await h.cases.execute(case_id, c.SubmitPlan(actor=ALICE))
    await h.cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    )
    await h.cases.execute(case_id, inputs.refer(url=h.sim.provider_url("shelter-1")))
    await h.env.sleep(DEFAULT_POLICY.referral_reply_deadline + timedelta(hours=1))
    [follow_up] = await h.events(case_id, "ReferralFollowUpDue")
    assert follow_up["referral_id"] == "referral-1"
    [raised] = await h.events(case_id, "EscalationRaised")
    assert raised["subject"] == "referral"
    await h.cases.execute(
        case_id, c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted")
    )
    [resolved] = await h.events(case_id, "EscalationResolved")
    assert resolved["resolution"] == "provider replied"


async def test_a_retried_notification_is_delivered_once(harness: Harness) -> None:
    h = harness
    # Carol's endpoint fails twice before it answers: the activity retries with the same key.
    h.sim.configure_recipient("carol", Behaviour.failing_first(2))
    case_id = await open_medium_case(h)
    await h.env.sleep(timedelta(days=60 + 7, minutes=1))
    for _ in range(30):
        await h.settle()
        if h.sim.notifications_for("carol"):
            break
    [notice] = h.sim.notifications_for("carol")
    assert notice.deliveries == 1
    assert len(h.sim.requests_for("carol")) == 3
    rows = await h.store.pool.fetch(
        "SELECT recipient, delivered_at, attempts FROM notification_outbox WHERE case_id = $1",
        case_id,
    )
    assert [(r["recipient"], r["attempts"]) for r in rows] == [("carol", 3)]
    assert all(r["delivered_at"] is not None for r in rows)


async def test_policy_change_reaches_a_running_case(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    shorter = DEFAULT_POLICY.model_copy(
        update={
            "version": 2,
            "review_interval": {
                **DEFAULT_POLICY.review_interval,
                RiskLevel.MEDIUM: timedelta(days=20),
            },
        }
    )
    with pytest.raises(CaseCommandRejected, match="may not change the agency's policy"):
        await h.cases.execute(case_id, c.ApplyPolicy(actor=ALICE, policy=shorter))
    await h.cases.execute(case_id, c.ApplyPolicy(actor=MAX, policy=shorter))
    state = await h.state(case_id)
    assert state.next_review_due == state.assessments[-1].recorded_at + timedelta(days=20)
    last = (await h.events(case_id, "ReviewScheduled"))[-1]
    assert (last["reason"], last["policy_version"]) == ("policy_changed", 2)


def test_now_is_aware() -> None:
    assert datetime.now(UTC).tzinfo is not None
