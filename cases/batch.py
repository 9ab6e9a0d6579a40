"""One command, one append: the events a command commits, with everything they set off.

A command's events change the case's state; the state may then call for events of
the system's own at once (cases/schedule.py `reactions`: escalations resolved, the
next review (re)scheduled), which may call for more, until nothing follows. The case
workflow appends all of them in one atomic append (workflows/case/): the log never
holds a decision without the review it moved, and a command costs one round trip to
the event store.

Each group keeps its own actor: the command's events are the acting staff member's,
the reactions are the system's (`SYSTEM_ACTOR`), as when they were appended one
group at a time.

Pure: no Temporal, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cases.actors import SYSTEM_ACTOR, Actor
from cases.evolve import evolve
from cases.policy import Policy
from cases.schedule import reactions
from cases.state import CaseState
from events.registry import DomainEvent

Batch = list[tuple[Actor, list[DomainEvent]]]
"""Groups of events in the order they are appended, each with the actor it is recorded for."""


def follow_ups(
    state: CaseState,
    policy: Policy,
    trigger: Sequence[DomainEvent],
    at: datetime,
    policy_changed: bool = False,
) -> list[list[DomainEvent]]:
    """What `trigger` sets off at once, group by group, until nothing more follows.

    `state` already has `trigger` applied, and is advanced through every group (as the
    system actor, at `at`): pass a copy to keep the original. Each group is what
    `reactions` yields on the state the previous group left — exactly the groups that
    appending one group at a time used to write.
    """
    groups: list[list[DomainEvent]] = []
    follow = reactions(state, policy, trigger, policy_changed)
    while follow:
        groups.append(follow)
        for event in follow:
            evolve(state, event, SYSTEM_ACTOR.staff_id, at)
        follow = reactions(state, policy, follow)
    return groups


def batch(
    state: CaseState,
    policy: Policy,
    actor: Actor,
    events: Sequence[DomainEvent],
    at: datetime,
    *,
    react: bool = True,
    policy_changed: bool = False,
) -> Batch:
    """The command's `events` (by `actor`), then their follow-ups (by the system) if `react`.

    `state` is the case before the command and is not changed. A command with no
    events of its own (a policy change) may still set off follow-ups.
    """
    groups: Batch = [(actor, list(events))] if events else []
    if not react:
        return groups
    trial = state.model_copy(deep=True)
    for event in events:
        evolve(trial, event, actor.staff_id, at)
    groups += [
        (SYSTEM_ACTOR, group)
        for group in follow_ups(trial, policy, events, at, policy_changed=policy_changed)
    ]
    return groups
