"""A plan's actions: the rules (add, complete, drop, reassign) and their timed rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cases import commands as c
from cases import schedule
from cases.actions import actions_added
from cases.command_table import entry_for
from cases.decide import CommandRejected
from cases.evolve import evolve
from cases.policy import EscalationStep, Policy
from cases.state import ActionStatus, CaseState
from events.personal import ERASED_TEXT, erase_personal
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionOverdue,
    ActionOwner,
    ActionOwnerKind,
    ActionReminderDue,
    CaseOnHold,
    CaseResumed,
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    RiskLevel,
)
from tests.cases.people import ALICE, BOB, CAROL, ERIN
from tests.cases.test_rules import NOW, with_active_plan

DAY = timedelta(days=1)
POLICY = Policy(
    action_reminder_lead=timedelta(days=2),
    escalation_ladder=[
        EscalationStep(notify="supervisor", after=timedelta(days=1)),
        EscalationStep(notify="manager", after=timedelta(days=3)),
    ],
)
CLIENT = ActionOwner(kind=ActionOwnerKind.CLIENT)
SISTER = ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona, her sister")
BOB_OWNS = ActionOwner(kind=ActionOwnerKind.WORKER, staff_id="bob")


def run(state: CaseState, cmd: c.Command, now: datetime = NOW) -> list[DomainEvent]:
    """Decide through the command table (as the workflow does) and fold the events."""
    events = entry_for(type(cmd)).decide(state, cmd, now)
    for event in events:
        evolve(state, event, cmd.actor.staff_id, now)
    return events


def add(
    state: CaseState,
    due: timedelta = 7 * DAY,
    owner: ActionOwner = CLIENT,
    crisis_plan: bool = False,
    now: datetime = NOW,
) -> str:
    [event] = run(
        state,
        c.AddAction(
            actor=ALICE,
            goal_id="housing",
            description="Bring ID documents to the housing office",
            owner=owner,
            due_at=now + due,
            crisis_plan=crisis_plan,
        ),
        now,
    )
    assert isinstance(event, ActionAdded)
    return event.action_id


def fire(state: CaseState, policy: Policy, until: datetime) -> list[DomainEvent]:
    """Every timed event up to `until`, as the workflow's timer would fire them."""
    fired: list[DomainEvent] = []
    while (wake := schedule.next_wakeup(state, policy)) is not None and wake <= until:
        events = schedule.due_events(state, policy, wake)
        assert events
        for event in events:
            evolve(state, event, "system", wake)
        reactions = schedule.reactions(state, policy, events)
        for event in reactions:
            evolve(state, event, "system", wake)
        fired += events + reactions
    return fired


def types(events: list[DomainEvent]) -> list[str]:
    return [e.type for e in events]


# --- rules ----------------------------------------------------------------------------------


def test_actions_belong_to_a_goal_of_the_plan_and_are_due_in_the_future() -> None:
    state = with_active_plan()
    assert add(state) == "action-1" and add(state, owner=SISTER) == "action-2"
    assert state.actions["action-2"].owner.name == "Mona, her sister"
    bad_goal = c.AddAction(
        actor=ALICE, goal_id="nope", description="x", owner=CLIENT, due_at=NOW + DAY
    )
    with pytest.raises(CommandRejected, match="goal_id: nope is not a goal of the plan"):
        run(state, bad_goal)
    past = c.AddAction(
        actor=ALICE, goal_id="housing", description="x", owner=CLIENT, due_at=NOW - DAY
    )
    with pytest.raises(CommandRejected, match=r"due_at: .* is not in the future"):
        run(state, past)
    assert state.actions_added == 2


def test_an_owner_names_the_worker_or_provider() -> None:
    with pytest.raises(ValueError, match=r"owner\.staff_id"):
        ActionOwner(kind=ActionOwnerKind.WORKER)
    with pytest.raises(ValueError, match=r"owner\.provider_id"):
        ActionOwner(kind=ActionOwnerKind.PROVIDER)


def test_who_may_add_complete_drop_and_reassign() -> None:
    state = with_active_plan()
    action = add(state, owner=BOB_OWNS)
    other = c.AddAction(
        actor=BOB, goal_id="housing", description="x", owner=CLIENT, due_at=NOW + DAY
    )
    with pytest.raises(CommandRejected, match="not the case's assigned worker"):
        run(state, other)
    with pytest.raises(CommandRejected, match="not in the case's team"):
        run(state, c.CompleteAction(actor=ERIN, action_id=action))
    # a colleague of the team who owns the action marks it done
    [done] = run(state, c.CompleteAction(actor=BOB, action_id=action, note="went with her"))
    assert isinstance(done, ActionCompleted) and not done.late
    assert state.actions[action].status is ActionStatus.DONE
    with pytest.raises(CommandRejected, match="action-1 is already done"):
        run(state, c.DropAction(actor=ALICE, action_id=action, reason="no longer needed"))
    with pytest.raises(CommandRejected, match="action_id: the case has no action action-9"):
        run(state, c.CompleteAction(actor=ALICE, action_id="action-9"))


def test_done_late_drop_with_reason_and_reassign() -> None:
    state = with_active_plan()
    late = add(state, due=DAY)
    [done] = run(state, c.CompleteAction(actor=ALICE, action_id=late), NOW + 2 * DAY)
    assert isinstance(done, ActionCompleted) and done.late and state.actions[late].late
    dropped = add(state)
    run(state, c.DropAction(actor=CAROL, action_id=dropped, reason="client moved"))
    assert state.actions[dropped].status is ActionStatus.DROPPED
    assert state.actions[dropped].drop_reason == "client moved"
    moved = add(state)
    with pytest.raises(CommandRejected, match="owner: action-3 is already with client"):
        run(state, c.ReassignAction(actor=ALICE, action_id=moved, owner=CLIENT, reason="x"))
    run(state, c.ReassignAction(actor=ALICE, action_id=moved, owner=SISTER, reason="sister helps"))
    assert state.actions[moved].owner == SISTER


def test_a_conference_adds_several_actions_with_consecutive_ids() -> None:
    state = with_active_plan()
    add(state)
    inputs = [
        c.ActionInput(goal_id="housing", description="a", owner=CLIENT, due_at=NOW + DAY),
        c.ActionInput(goal_id="housing", description="b", owner=SISTER, due_at=NOW + 2 * DAY),
    ]
    events = actions_added(state, inputs, NOW, conference_id="conference-1")
    assert [e.action_id for e in events if isinstance(e, ActionAdded)] == ["action-2", "action-3"]
    assert all(isinstance(e, ActionAdded) and e.conference_id == "conference-1" for e in events)
    bad = [*inputs, inputs[0].model_copy(update={"goal_id": "gone"})]
    with pytest.raises(CommandRejected, match=r"actions\[2\]\.goal_id: gone"):
        actions_added(state, bad, NOW)


def test_no_actions_on_a_closed_case() -> None:
    state = with_active_plan()
    state.status = state.status.CLOSED
    with pytest.raises(CommandRejected, match="the case is closed"):
        add(state)


def test_client_forget_erases_the_actions_personal_fields() -> None:
    state = with_active_plan()
    action = add(state, owner=SISTER)
    run(state, c.DropAction(actor=ALICE, action_id=action, reason="sister in hospital"))
    erased = erase_personal(state).actions[action]
    assert (erased.description, erased.owner.name) == (ERASED_TEXT, None)
    assert erased.drop_reason == "sister in hospital"  # a one-line reason, not personal
    assert erased.owner.kind is ActionOwnerKind.FAMILY and erased.goal_id == "housing"


def test_actions_are_redacted_in_logs() -> None:
    from infrastructure.logs import redact_personal_data

    add = c.AddAction(
        actor=ALICE,
        goal_id="housing",
        description="Collect the methadone prescription",
        owner=ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona Quennell"),
        due_at=NOW + DAY,
    )
    done = c.CompleteAction(actor=ALICE, action_id="action-1", note="went with her mother")
    logged = str(redact_personal_data(None, "info", {"event": "x", "add": add, "done": done}))
    for secret in ("methadone", "Mona", "mother"):
        assert secret not in logged, secret
    assert "housing" in logged and "family" in logged


# --- timed rules ----------------------------------------------------------------------------


def test_reminder_to_the_owners_worker_then_overdue_and_no_escalation_when_not_critical() -> None:
    state = with_active_plan()
    action = add(state, due=7 * DAY, owner=BOB_OWNS)
    events = fire(state, POLICY, NOW + 30 * DAY)
    timed = [e for e in events if isinstance(e, ActionReminderDue | ActionOverdue)]
    assert [(e.type, e.worker, e.action_id) for e in timed] == [
        ("ActionReminderDue", "bob", action),
        ("ActionOverdue", "bob", action),
    ]
    assert state.actions[action].status is ActionStatus.OVERDUE
    assert not [e for e in events if isinstance(e, EscalationRaised)]


def test_a_critical_action_climbs_the_ladder_and_is_resolved_when_done() -> None:
    state = with_active_plan()
    action = add(state, due=3 * DAY, crisis_plan=True)
    fired = fire(state, POLICY, NOW + 30 * DAY)
    raised = [e for e in fired if isinstance(e, EscalationRaised)]
    assert [(e.subject, e.subject_id, e.level, e.notify) for e in raised] == [
        (EscalationSubject.ACTION, action, 1, "supervisor"),
        (EscalationSubject.ACTION, action, 2, "manager"),
    ]
    assert state.actions[action].worker(state.assigned_worker) == "alice"
    run(state, c.CompleteAction(actor=ALICE, action_id=action), NOW + 31 * DAY)
    resolved = schedule.reactions(state, POLICY, [])
    assert [(type(e), getattr(e, "resolution", None)) for e in resolved] == [
        (EscalationResolved, "action done")
    ]


def test_the_policy_decides_what_is_critical() -> None:
    assert POLICY.action_is_critical(True, None)
    assert not POLICY.action_is_critical(False, RiskLevel.HIGH)
    assert POLICY.action_is_critical(False, RiskLevel.CRISIS)
    high = Policy(critical_actions=["high_risk"])
    assert high.action_is_critical(False, RiskLevel.HIGH)
    assert not high.action_is_critical(True, RiskLevel.LOW)


def test_a_new_due_date_resolves_the_escalation_and_rearms_the_reminder() -> None:
    state = with_active_plan()
    action = add(state, due=DAY, crisis_plan=True)
    fire(state, POLICY, NOW + 3 * DAY)
    assert state.escalations
    later = NOW + 4 * DAY
    run(
        state,
        c.ReassignAction(
            actor=ALICE, action_id=action, owner=SISTER, due_at=later + 5 * DAY, reason="help"
        ),
        later,
    )
    assert state.actions[action].status is ActionStatus.OPEN
    [resolved] = schedule.reactions(state, POLICY, [])
    assert isinstance(resolved, EscalationResolved)
    assert resolved.resolution == "action given a new due date"


def test_a_hold_pauses_action_timers_and_a_closed_case_raises_nothing() -> None:
    state = with_active_plan()
    action = add(state, due=5 * DAY, crisis_plan=True)
    evolve(state, CaseOnHold(reason="in hospital", until=NOW + 20 * DAY), "alice", NOW + DAY)
    assert [e for e in fire(state, POLICY, NOW + 19 * DAY) if "Action" in e.type] == []
    evolve(state, CaseResumed(reason="home"), "alice", NOW + 19 * DAY)
    fired = fire(state, POLICY, NOW + 19 * DAY)
    assert "ActionOverdue" in types(fired)
    assert state.actions[action].status is ActionStatus.OVERDUE
    state.status = state.status.CLOSED
    assert schedule.next_wakeup(state, POLICY) is None
