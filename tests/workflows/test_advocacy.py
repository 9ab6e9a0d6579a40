"""Advocacy follow-ups and the client's feedback (issue 16), in the time-skipping environment.

The follow-up timer of an open advocacy: nothing before its next step's date has
passed; the day after, a follow-up and level 1 of the ladder; the ladder's next level
after its delay; recording the step or the outcome resolves it; a hold pauses it; a
closed case raises nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from application.case_client import CaseCommandRejected
from application.forget import forget
from cases import commands as c
from directory import resolve_actor
from events.personal import ERASED_TEXT as ERASED
from events.vocabulary import (
    AdvocacyOpened,
    ApprovalKind,
    ClientFeedbackRecorded,
    ClosureReason,
    ConsentGiver,
    FeedbackSubject,
)
from tests.cases import advocacy_inputs as adv
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL
from tests.workflows.scenarios import days_after_opening
from tests.workflows.test_reviews import Harness, harness, open_medium_case

__all__ = ["harness"]

DAY = timedelta(days=1)


async def advocacy_escalations(h: Harness, case_id: uuid.UUID) -> list[dict[str, object]]:
    return [e for e in await h.events(case_id, "EscalationRaised") if e["subject"] == "advocacy"]


async def test_advocacy_is_followed_up_escalates_and_resolves(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    step_date = await days_after_opening(h.cases, case_id, 7)
    result = await h.cases.execute(case_id, adv.open_advocacy(step_date))
    assert result.events == ["AdvocacyOpened"]

    await h.env.sleep(timedelta(days=7))
    assert "AdvocacyFollowUpDue" not in await h.types(case_id)
    await h.env.sleep(2 * DAY)  # the next step's day has passed with nothing recorded
    [follow_up] = await h.events(case_id, "AdvocacyFollowUpDue")
    assert follow_up["advocacy_id"] == "advocacy-1" and follow_up["step"] == 1
    [level1] = await advocacy_escalations(h, case_id)
    assert (level1["subject_id"], level1["level"], level1["notify"]) == (
        "advocacy-1.step-1",
        1,
        "supervisor",
    )
    await h.env.sleep(timedelta(days=7, hours=1))
    assert [e["level"] for e in await advocacy_escalations(h, case_id)] == [1, 2]

    # The appeal is recorded: the escalation is resolved; the new step has its own timer.
    hearing = await days_after_opening(h.cases, case_id, 60)
    await h.cases.execute(case_id, adv.appeal("advocacy-1", hearing))
    [resolved] = await h.events(case_id, "EscalationResolved")
    assert resolved["resolution"] == "advocacy step recorded"
    state = await h.state(case_id)
    assert state.advocacy["advocacy-1"].step == 2 and not state.escalations

    # The appeal is won before the hearing's date: nothing more is raised.
    await h.cases.execute(case_id, adv.won("advocacy-1"))
    await h.env.sleep(timedelta(days=90))
    assert len(await h.events(case_id, "AdvocacyFollowUpDue")) == 1
    assert len(await advocacy_escalations(h, case_id)) == 2
    with pytest.raises(CaseCommandRejected, match="advocacy-1 was concluded"):
        await h.cases.execute(case_id, adv.won("advocacy-1"))


async def test_a_hold_pauses_the_advocacy_follow_up(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    step_date = await days_after_opening(h.cases, case_id, 5)
    await h.cases.execute(case_id, adv.open_advocacy(step_date))
    state = await h.state(case_id)
    planned = state.advocacy["advocacy-1"].follow_up_at
    until = state.opened_at + timedelta(days=21)
    await h.env.sleep(DAY)
    await h.cases.execute(case_id, c.HoldCase(actor=ALICE, reason="in hospital", until=until))
    await h.env.sleep(timedelta(days=19))  # past the step's date, still on hold
    assert "AdvocacyFollowUpDue" not in await h.types(case_id)
    await h.env.sleep(2 * DAY)  # the hold ends on its own
    assert "CaseResumed" in await h.types(case_id)
    shifted = (await h.state(case_id)).advocacy["advocacy-1"].follow_up_at
    assert timedelta(days=19) < shifted - planned < timedelta(days=21)
    assert "AdvocacyFollowUpDue" not in await h.types(case_id)
    await h.env.sleep(timedelta(days=6))
    assert len(await h.events(case_id, "AdvocacyFollowUpDue")) == 1


async def test_a_closed_case_follows_no_advocacy_up(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    await h.cases.execute(case_id, adv.open_advocacy(await days_after_opening(h.cases, case_id, 3)))
    await h.cases.execute(case_id, c.RequestClosure(actor=ALICE, reason=ClosureReason.MOVED_AWAY))
    await h.cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True)
    )
    before = await h.types(case_id)
    await h.env.sleep(timedelta(days=400))
    assert await h.types(case_id) == before
    assert "AdvocacyFollowUpDue" not in before


async def test_feedback_on_a_referral_and_on_the_plan(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    await h.cases.execute(case_id, inputs.consent())
    await h.cases.execute(case_id, inputs.plan())
    await h.cases.execute(case_id, adv.plan_feedback(agrees=True))
    await h.cases.execute(case_id, c.SubmitPlan(actor=ALICE))
    await h.cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    )
    await h.cases.execute(case_id, inputs.refer(url=h.sim.provider_url("shelter-1")))
    await h.cases.execute(case_id, adv.referral_feedback(rating=1))
    with pytest.raises(CaseCommandRejected, match="referral_id: the case has no referral"):
        await h.cases.execute(case_id, adv.referral_feedback("referral-9"))
    plan, referral = await h.events(case_id, "ClientFeedbackRecorded")
    assert (plan["subject"], plan["plan_version"], plan["agrees_with_plan"]) == ("plan", 1, True)
    assert (referral["provider_id"], referral["rating"]) == ("shelter-1", 1)
    assert (await h.state(case_id)).feedback == 2


async def test_advocacy_and_feedback_are_sealed_and_erased_by_forget(harness: Harness) -> None:
    h = harness
    case_id = await open_medium_case(h)
    guardian = adv.open_advocacy(await days_after_opening(h.cases, case_id, 7)).model_copy(
        update={"consent_by": ConsentGiver.GUARDIAN, "consent_name": "Martha Quennell"}
    )
    await h.cases.execute(case_id, guardian)
    await h.cases.execute(
        case_id,
        c.RecordFeedback(
            actor=ALICE,
            subject=FeedbackSubject.SERVICE,
            provider_id="foodbank-2",
            service_id="parcels",
            rating=2,
            words="The volunteers at Marlowe Street were rude to me",
        ),
    )
    secrets = ("Martha Quennell", "Marlowe Street", "no income", "reconsideration decision")
    rows = [r["data"] for r in await h.store.pool.fetch("SELECT data::text AS data FROM events")]
    assert rows and not [s for s in secrets for row in rows if s in row]
    opened_event = h.store.decode(
        next(
            e
            for e in await h.store.read_stream(f"case-{case_id}")
            if e.event_type == "AdvocacyOpened"
        )
    )
    assert isinstance(opened_event, AdvocacyOpened)
    assert opened_event.consent_name == "Martha Quennell"

    admin = await resolve_actor(h.store, "root")
    await forget(h.store, admin, "CL-1042", "erasure request")
    decoded = [h.store.decode(e) for e in await h.store.read_stream(f"case-{case_id}")]
    advocacy = next(e for e in decoded if isinstance(e, AdvocacyOpened))
    feedback = next(e for e in decoded if isinstance(e, ClientFeedbackRecorded))
    assert (advocacy.consent_name, advocacy.details, advocacy.next_step) == (ERASED, ERASED, ERASED)
    assert feedback.words == ERASED and feedback.rating == 2
    assert advocacy.organisation == "Department for Work and Pensions"
