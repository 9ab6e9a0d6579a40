"""Advocacy and the client's feedback (issue 16): the pure rules, the fold and the timer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cases import commands as c
from cases import decide as rules
from cases import schedule
from cases.actors import Actor
from cases.evolve import evolve
from cases.features.advocacy import (
    decide_advocacy_step,
    decide_conclude_advocacy,
    decide_open_advocacy,
)
from cases.features.feedback import decide_feedback
from cases.policy import DEFAULT_POLICY
from cases.state import CaseState
from events.personal import ERASED_TEXT, erase_personal, personal_paths
from events.registry import DomainEvent
from events.vocabulary import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyConcluded,
    AdvocacyFollowUpDue,
    AdvocacyOpened,
    AdvocacyOutcome,
    AdvocacyStepRecorded,
    CaseClosed,
    CaseOnHold,
    CaseResumed,
    ClientFeedbackRecorded,
    ClientForgotten,
    ClosureReason,
    ConsentGiver,
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    FeedbackSubject,
)
from tests.cases import advocacy_inputs as adv
from tests.cases import inputs
from tests.cases.people import ALICE, AUDREY, CAROL, ERIN
from tests.cases.test_rules import NOW, opened, with_active_plan

TODAY = NOW.date()
NEXT_WEEK = TODAY + timedelta(days=7)


def apply(state: CaseState, actor: Actor, events: list[DomainEvent], at: datetime) -> None:
    for event in events:
        evolve(state, event, actor.staff_id, at)


def with_advocacy() -> CaseState:
    state = opened()
    apply(state, ALICE, decide_open_advocacy(state, adv.open_advocacy(NEXT_WEEK), NOW), NOW)
    return state


def fire(state: CaseState, until: datetime) -> list[DomainEvent]:
    """Every timed event up to `until`, applied in order (what the workflow does)."""
    fired: list[DomainEvent] = []
    while True:
        wakeup = schedule.next_wakeup(state, DEFAULT_POLICY)
        if wakeup is None or wakeup > until:
            return fired
        events = schedule.due_events(state, DEFAULT_POLICY, wakeup)
        apply(state, ALICE, events, wakeup)
        fired += events
        fired += (reacted := schedule.reactions(state, DEFAULT_POLICY, events))
        apply(state, ALICE, reacted, wakeup)


def advocacy_events(events: list[DomainEvent]) -> list[DomainEvent]:
    """The advocacy follow-ups and advocacy escalations among `events` (not the review's)."""
    return [
        e
        for e in events
        if isinstance(e, AdvocacyFollowUpDue)
        or (isinstance(e, EscalationRaised) and e.subject is EscalationSubject.ADVOCACY)
    ]


# --- rules -----------------------------------------------------------------------------------


def test_advocacy_is_opened_with_consent_and_a_dated_next_step() -> None:
    state = with_advocacy()
    advocacy = state.advocacy["advocacy-1"]
    assert advocacy.barrier is AdvocacyBarrier.BENEFIT_STOPPED
    assert advocacy.actions == [AdvocacyAction.REQUEST] and advocacy.is_open
    assert advocacy.follow_up_at == datetime.combine(
        NEXT_WEEK + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )
    second = decide_open_advocacy(state, adv.open_advocacy(NEXT_WEEK), NOW)
    assert isinstance(second[0], AdvocacyOpened) and second[0].advocacy_id == "advocacy-2"


def test_consent_from_someone_else_names_them() -> None:
    state = opened()
    cmd = adv.open_advocacy(NEXT_WEEK).model_copy(update={"consent_by": ConsentGiver.GUARDIAN})
    with pytest.raises(rules.CommandRejected, match=r"^consent_name: name the guardian"):
        decide_open_advocacy(state, cmd, NOW)
    named = cmd.model_copy(update={"consent_name": "Martha Quennell"})
    [event] = decide_open_advocacy(state, named, NOW)
    assert isinstance(event, AdvocacyOpened) and event.consent_name == "Martha Quennell"


def test_next_step_may_not_be_in_the_past() -> None:
    state = opened()
    with pytest.raises(rules.CommandRejected, match=r"^next_step_date: .* is in the past"):
        decide_open_advocacy(state, adv.open_advocacy(TODAY - timedelta(days=1)), NOW)


@pytest.mark.parametrize(("actor", "allowed"), [(ALICE, True), (CAROL, True), (ERIN, False)])
def test_who_may_advocate(actor: Actor, allowed: bool) -> None:
    state = opened()
    cmd = adv.open_advocacy(NEXT_WEEK, actor=actor)
    if allowed:
        assert decide_open_advocacy(state, cmd, NOW)
    else:
        with pytest.raises(rules.CommandRejected, match=rf"^{actor.staff_id} "):
            decide_open_advocacy(state, cmd, NOW)


def test_steps_then_an_outcome_then_nothing_more() -> None:
    state = with_advocacy()
    [step] = decide_advocacy_step(state, adv.appeal("advocacy-1", NEXT_WEEK), NOW)
    assert isinstance(step, AdvocacyStepRecorded) and step.step == 2
    apply(state, ALICE, [step], NOW)
    assert state.advocacy["advocacy-1"].actions == [AdvocacyAction.REQUEST, AdvocacyAction.APPEAL]
    [done] = decide_conclude_advocacy(state, adv.won("advocacy-1"))
    assert isinstance(done, AdvocacyConcluded) and done.outcome is AdvocacyOutcome.RESOLVED
    apply(state, ALICE, [done], NOW)
    with pytest.raises(rules.CommandRejected, match="advocacy-1 was concluded"):
        decide_conclude_advocacy(state, adv.won("advocacy-1"))
    with pytest.raises(rules.CommandRejected, match=r"^advocacy_id: the case has no advocacy"):
        decide_advocacy_step(state, adv.appeal("advocacy-9", NEXT_WEEK), NOW)


def test_feedback_on_a_referral_takes_its_provider_and_service() -> None:
    state = with_active_plan()
    apply(state, ALICE, rules.decide_refer(state, inputs.refer()), NOW)
    [event] = decide_feedback(state, adv.referral_feedback())
    assert isinstance(event, ClientFeedbackRecorded)
    assert (event.provider_id, event.service_id, event.rating) == ("shelter-1", "emergency-bed", 2)
    assert event.feedback_id == "feedback-1"
    apply(state, ALICE, [event], NOW)
    assert state.feedback == 1
    with pytest.raises(rules.CommandRejected, match=r"^referral_id: the case has no referral"):
        decide_feedback(state, adv.referral_feedback("referral-7"))


def test_feedback_on_the_plan_says_whether_the_client_agrees() -> None:
    state = with_active_plan()
    [event] = decide_feedback(state, adv.plan_feedback(agrees=False))
    assert isinstance(event, ClientFeedbackRecorded)
    assert (event.plan_id, event.plan_version, event.agrees_with_plan) == ("plan-1", 1, False)
    no_answer = adv.plan_feedback().model_copy(update={"agrees_with_plan": None})
    with pytest.raises(rules.CommandRejected, match=r"^agrees_with_plan"):
        decide_feedback(state, no_answer)
    with pytest.raises(rules.CommandRejected, match="no plan yet"):
        decide_feedback(opened(), adv.plan_feedback())


def test_feedback_on_a_service_names_it_and_auditors_record_none() -> None:
    state = opened()
    vague = c.RecordFeedback(actor=ALICE, subject=FeedbackSubject.SERVICE, rating=1)
    with pytest.raises(rules.CommandRejected, match=r"^provider_id, service_id"):
        decide_feedback(state, vague)
    named = vague.model_copy(update={"provider_id": "foodbank-2", "service_id": "parcels"})
    assert decide_feedback(state, named)
    with pytest.raises(rules.CommandRejected, match=r"^audrey "):
        decide_feedback(state, named.model_copy(update={"actor": AUDREY}))


def test_rating_is_one_to_five() -> None:
    with pytest.raises(ValueError, match="rating"):
        c.RecordFeedback(actor=ALICE, subject=FeedbackSubject.PLAN, rating=6)


# --- personal data ---------------------------------------------------------------------------


def test_new_personal_fields_are_marked_and_erased() -> None:
    assert {p.dotted for p in personal_paths(AdvocacyOpened)} == {
        "consent_name",
        "details",
        "next_step",
    }
    assert {p.dotted for p in personal_paths(AdvocacyStepRecorded)} == {"note", "next_step"}
    assert {p.dotted for p in personal_paths(AdvocacyConcluded)} == {"note"}
    assert {p.dotted for p in personal_paths(ClientFeedbackRecorded)} == {"words"}
    state = with_advocacy()
    apply(state, ALICE, [ClientForgotten(client_ref=state.client_ref, reason="asked")], NOW)
    assert state.advocacy["advocacy-1"].next_step == ERASED_TEXT
    assert erase_personal(state) == state


# --- the follow-up timer ---------------------------------------------------------------------


def day_after_next_step() -> datetime:
    return datetime.combine(NEXT_WEEK + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def test_a_next_step_not_recorded_is_followed_up_and_escalates() -> None:
    state = with_advocacy()
    assert schedule.next_wakeup(state, DEFAULT_POLICY) == day_after_next_step()
    assert not advocacy_events(fire(state, day_after_next_step() - timedelta(seconds=1)))
    fired = advocacy_events(fire(state, day_after_next_step()))
    follow_up, raised = fired
    assert isinstance(follow_up, AdvocacyFollowUpDue) and follow_up.next_step_date == NEXT_WEEK
    assert isinstance(raised, EscalationRaised)
    assert (raised.subject, raised.subject_id, raised.level) == ("advocacy", "advocacy-1.step-1", 1)
    # The ladder's next level after its delay.
    later = advocacy_events(fire(state, day_after_next_step() + timedelta(days=7)))
    assert [(e.level, e.notify) for e in later if isinstance(e, EscalationRaised)] == [
        (2, "manager")
    ]
    # Recording the step resolves it; the new step has its own follow-up.
    step = decide_advocacy_step(
        state, adv.appeal("advocacy-1", TODAY + timedelta(days=30)), NOW + timedelta(days=15)
    )
    apply(state, ALICE, step, NOW + timedelta(days=15))
    [resolved] = schedule.reactions(state, DEFAULT_POLICY, step)
    assert isinstance(resolved, EscalationResolved)
    assert resolved.resolution == "advocacy step recorded"
    apply(state, ALICE, [resolved], NOW + timedelta(days=15))
    assert schedule.next_wakeup(state, DEFAULT_POLICY) == datetime.combine(
        TODAY + timedelta(days=31), datetime.min.time(), tzinfo=UTC
    )


def test_an_outcome_resolves_the_escalation_and_stops_the_timer() -> None:
    state = with_advocacy()
    fire(state, day_after_next_step())
    done = decide_conclude_advocacy(state, adv.won("advocacy-1"))
    apply(state, ALICE, done, day_after_next_step())
    [resolved] = schedule.reactions(state, DEFAULT_POLICY, done)
    assert isinstance(resolved, EscalationResolved) and resolved.resolution == "advocacy concluded"
    apply(state, ALICE, [resolved], day_after_next_step())
    assert not advocacy_events(fire(state, day_after_next_step() + timedelta(days=400)))


def test_a_hold_pauses_the_follow_up() -> None:
    state = with_advocacy()
    hold_at = NOW + timedelta(days=2)
    apply(
        state,
        ALICE,
        [CaseOnHold(reason="in hospital", until=hold_at + timedelta(days=20))],
        hold_at,
    )
    assert not advocacy_events(fire(state, day_after_next_step() + timedelta(days=5)))
    resumed_at = hold_at + timedelta(days=10)
    apply(state, ALICE, [CaseResumed(reason="home")], resumed_at)
    # The follow-up runs on with what was left of it: ten days later than planned.
    assert state.advocacy["advocacy-1"].follow_up_at == day_after_next_step() + timedelta(days=10)
    assert advocacy_events(fire(state, day_after_next_step() + timedelta(days=10)))


def test_a_closed_case_follows_nothing_up() -> None:
    state = with_advocacy()
    apply(state, CAROL, [CaseClosed(reason=ClosureReason.MOVED_AWAY)], NOW)
    assert schedule.next_wakeup(state, DEFAULT_POLICY) is None
    assert fire(state, NOW + timedelta(days=400)) == []


def test_old_events_without_advocacy_keep_their_meaning() -> None:
    state = opened()
    assert state.advocacy == {} and state.feedback == 0
    assert (
        CaseState.model_validate(
            {k: v for k, v in state.model_dump().items() if k not in ("advocacy", "feedback")}
        )
        == state
    )


def test_advocacy_and_feedback_commands_are_redacted_in_logs() -> None:
    from infrastructure.logs import redact_personal_data

    guardian = adv.open_advocacy(NEXT_WEEK).model_copy(
        update={"consent_by": ConsentGiver.GUARDIAN, "consent_name": "Martha Quennell"}
    )
    logged = redact_personal_data(
        None,
        "info",
        {
            "event": "x",
            "open": guardian,
            "step": adv.appeal("advocacy-1", NEXT_WEEK),
            "outcome": adv.won("advocacy-1"),
            "feedback": adv.referral_feedback(),
        },
    )
    text = str(logged)
    for secret in ("Martha", "no income", "Reconsideration", "Tribunal", "back pay", "waiting"):
        assert secret not in text, secret
    assert "benefit_stopped" in text  # the barrier is not personal
