"""A plan's actions in the time-skipping environment: the durable timer per open action.

Reminder to the owner's worker before the due date, overdue after it, the escalation
ladder for critical actions (notifications delivered), resolution when done, a hold
pausing it all, a closed case raising nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from application.case_client import CaseCommandRejected
from cases import commands as c
from cases.state import ActionStatus
from devtools.provider_simulator import ReceivedNotification
from events.vocabulary import ActionOwner, ActionOwnerKind, ApprovalKind, ClosureReason
from tests.cases.people import ALICE, CAROL
from tests.workflows.scenarios import approved_plan
from tests.workflows.test_reviews import Harness
from tests.workflows.test_reviews import harness as harness  # the fixture

DAY = timedelta(days=1)
CLIENT = ActionOwner(kind=ActionOwnerKind.CLIENT)


def reminded(h: Harness, recipient: str) -> list[ReceivedNotification]:
    return [n for n in h.sim.notifications_for(recipient) if n.body["kind"] == "action_reminder"]


async def now_of(h: Harness, case_id: uuid.UUID) -> datetime:
    """The case's clock: when its last event was appended (the server's time skips)."""
    return (await h.store.read_stream(f"case-{case_id}"))[-1].occurred_at


async def add(h: Harness, case_id: uuid.UUID, due: timedelta, crisis_plan: bool) -> str:
    now = await now_of(h, case_id)
    result = await h.cases.execute(
        case_id,
        c.AddAction(
            actor=ALICE,
            goal_id="housing",
            description="Call the crisis line if the sister's flat falls through",
            owner=CLIENT,
            due_at=now + due,
            crisis_plan=crisis_plan,
        ),
    )
    assert result.events == ["ActionAdded"]
    return f"action-{(await h.state(case_id)).actions_added}"


async def test_a_critical_action_reminds_goes_overdue_escalates_and_resolves(
    harness: Harness,
) -> None:
    h = harness
    case_id = await approved_plan(h.cases)
    action = await add(h, case_id, 5 * DAY, crisis_plan=True)
    quiet = await add(h, case_id, 5 * DAY, crisis_plan=False)
    due = (await h.state(case_id)).actions[action].due_at

    await h.env.sleep(2 * DAY)
    assert not await h.events(case_id, "ActionReminderDue")
    await h.env.sleep(DAY + timedelta(minutes=1))  # two days before the due date
    reminders = await h.events(case_id, "ActionReminderDue")
    assert {(r["action_id"], r["worker"]) for r in reminders} == {
        (action, "alice"),
        (quiet, "alice"),
    }
    # Each reminder reaches Alice's webhook once, keyed by the action and its due date.
    await h.sim.wait_for(lambda: len(reminded(h, "alice")) == 2, timeout_seconds=60)
    assert {(n.body["action_id"], n.deliveries) for n in reminded(h, "alice")} == {
        (action, 1),
        (quiet, 1),
    }
    assert all(n.body["recipient"] == "alice" for n in reminded(h, "alice"))

    await h.env.sleep(2 * DAY)
    overdue = await h.events(case_id, "ActionOverdue")
    assert {o["action_id"] for o in overdue} == {action, quiet}
    [level1] = await h.events(case_id, "EscalationRaised")
    assert (level1["subject"], level1["subject_id"], level1["level"]) == ("action", action, 1)
    assert abs(level1["_at"] - due) < timedelta(seconds=1)
    state = await h.state(case_id)
    assert state.actions[action].status is ActionStatus.OVERDUE

    await h.env.sleep(7 * DAY)  # the ladder's next level: the manager
    assert [e["level"] for e in await h.events(case_id, "EscalationRaised")] == [1, 2]
    await h.settle()
    assert h.sim.notifications_for("carol") and h.sim.notifications_for("max")

    result = await h.cases.execute(case_id, c.CompleteAction(actor=ALICE, action_id=action))
    assert result.events == ["ActionCompleted"]
    [resolved] = await h.events(case_id, "EscalationResolved")
    assert resolved["resolution"] == "action done"
    [done] = await h.events(case_id, "ActionCompleted")
    assert done["late"] is True
    state = await h.state(case_id)
    assert state.escalations == {} and state.actions[action].status is ActionStatus.DONE
    with pytest.raises(CaseCommandRejected, match="already done"):
        await h.cases.execute(case_id, c.CompleteAction(actor=ALICE, action_id=action))


async def test_a_hold_pauses_actions_and_a_closed_case_raises_nothing(harness: Harness) -> None:
    h = harness
    case_id = await approved_plan(h.cases)
    action = await add(h, case_id, 5 * DAY, crisis_plan=True)
    now = await now_of(h, case_id)
    await h.cases.execute(
        case_id, c.HoldCase(actor=ALICE, reason="in hospital", until=now + 10 * DAY)
    )
    await h.env.sleep(9 * DAY)
    assert not {"ActionReminderDue", "ActionOverdue", "EscalationRaised"} & set(
        await h.types(case_id)
    )
    await h.env.sleep(2 * DAY)  # the hold ends: the action fell due during it
    types = await h.types(case_id)
    assert "CaseResumed" in types and "ActionOverdue" in types
    assert [e["subject_id"] for e in await h.events(case_id, "EscalationRaised")] == [action]

    await h.cases.execute(case_id, c.RequestClosure(actor=ALICE, reason=ClosureReason.MOVED_AWAY))
    await h.cases.execute(
        case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True)
    )
    assert (await h.events(case_id, "EscalationResolved"))[-1]["resolution"] == "case closed"
    before = await h.types(case_id)
    await h.env.sleep(60 * DAY)
    assert await h.types(case_id) == before


async def test_dropping_or_a_new_due_date_stops_the_timer(harness: Harness) -> None:
    h = harness
    case_id = await approved_plan(h.cases)
    dropped = await add(h, case_id, 5 * DAY, crisis_plan=True)
    moved = await add(h, case_id, 5 * DAY, crisis_plan=True)
    await h.cases.execute(
        case_id, c.DropAction(actor=ALICE, action_id=dropped, reason="the client found a flat")
    )
    now = await now_of(h, case_id)
    sister = ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona")
    await h.cases.execute(
        case_id,
        c.ReassignAction(
            actor=ALICE, action_id=moved, owner=sister, due_at=now + 20 * DAY, reason="sister"
        ),
    )
    await h.env.sleep(10 * DAY)
    assert not await h.events(case_id, "ActionOverdue")
    assert [r["action_id"] for r in await h.events(case_id, "ActionReminderDue")] == []
    await h.env.sleep(9 * DAY)
    assert [r["action_id"] for r in await h.events(case_id, "ActionReminderDue")] == [moved]
