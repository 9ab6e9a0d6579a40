"""A plan's actions: the rules of adding, completing, dropping and reassigning them.

Each action belongs to a goal of the plan (the active one, or the draft being written),
has an owner (the caseworker, the client, a family member, a provider, another worker),
a due date and a status: open, overdue (open past its due date), done, or dropped with
a reason. Their timers (a reminder to the owner's worker before the due date, overdue
after it, escalation of critical ones) are timed rules in cases/schedule.py.

`actions_added` is also what a case conference calls for the actions it agrees (it
checks its own permission first). Pure: no Temporal, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cases import commands as c
from cases.access import Action
from cases.decide import CommandRejected, permit_open
from cases.state import CaseState, PlanAction
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionReassigned,
    Goal,
)


def plan_goal(state: CaseState, goal_id: str) -> Goal | None:
    """A goal of the active plan, else of the draft plan being written."""
    goal = state.active_goal(goal_id)
    if goal is None and state.draft_plan is not None:
        goal = next((g for g in state.draft_plan.goals if g.goal_id == goal_id), None)
    return goal


def actions_added(
    state: CaseState,
    inputs: Sequence[c.ActionInput],
    now: datetime,
    conference_id: str | None = None,
    field: str = "actions",
) -> list[DomainEvent]:
    """The `ActionAdded` events for `inputs` (ids action-<n>, consecutive), or CommandRejected
    naming the field. No permission check: the caller's rule makes it."""
    events: list[DomainEvent] = []
    for index, action in enumerate(inputs):
        where = f"{field}[{index}]." if field else ""
        if plan_goal(state, action.goal_id) is None:
            raise CommandRejected(
                f"{where}goal_id: {action.goal_id} is not a goal of the plan"
                + ("" if state.active_plan or state.draft_plan else " (the case has no plan yet)")
            )
        if action.due_at <= now:
            raise CommandRejected(
                f"{where}due_at: {action.due_at:%Y-%m-%d %H:%M} is not in the future"
            )
        events.append(
            ActionAdded(
                action_id=f"action-{state.actions_added + index + 1}",
                goal_id=action.goal_id,
                description=action.description,
                owner=action.owner,
                due_at=action.due_at,
                crisis_plan=action.crisis_plan,
                conference_id=conference_id,
            )
        )
    return events


def _action(state: CaseState, action_id: str) -> PlanAction:
    action = state.actions.get(action_id)
    if action is None:
        raise CommandRejected(f"action_id: the case has no action {action_id}")
    if not action.is_open:
        raise CommandRejected(f"{action_id} is already {action.status}")
    return action


def decide_add_action(state: CaseState, cmd: c.AddAction, now: datetime) -> list[DomainEvent]:
    permit_open(state, cmd, Action.PLAN_ACTIONS, "adding an action")
    return actions_added(state, [cmd.input()], now, cmd.conference_id, field="")


def decide_complete_action(
    state: CaseState, cmd: c.CompleteAction, now: datetime
) -> list[DomainEvent]:
    permit_open(state, cmd, Action.COMPLETE_ACTION, "completing an action")
    action = _action(state, cmd.action_id)
    return [ActionCompleted(action_id=action.action_id, late=now > action.due_at, note=cmd.note)]


def decide_drop_action(state: CaseState, cmd: c.DropAction, now: datetime) -> list[DomainEvent]:
    permit_open(state, cmd, Action.PLAN_ACTIONS, "dropping an action")
    action = _action(state, cmd.action_id)
    return [ActionDropped(action_id=action.action_id, reason=cmd.reason)]


def decide_reassign_action(
    state: CaseState, cmd: c.ReassignAction, now: datetime
) -> list[DomainEvent]:
    permit_open(state, cmd, Action.PLAN_ACTIONS, "reassigning an action")
    action = _action(state, cmd.action_id)
    if cmd.due_at is not None and cmd.due_at <= now:
        raise CommandRejected(f"due_at: {cmd.due_at:%Y-%m-%d %H:%M} is not in the future")
    if cmd.owner == action.owner and cmd.due_at in (None, action.due_at):
        raise CommandRejected(
            f"owner: {action.action_id} is already with {action.owner.label()} "
            "(give another owner or a new due_at)"
        )
    return [
        ActionReassigned(
            action_id=action.action_id,
            owner=cmd.owner,
            due_at=cmd.due_at or action.due_at,
            reason=cmd.reason,
        )
    ]
