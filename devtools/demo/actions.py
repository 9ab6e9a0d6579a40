"""The demo's plan actions: each approved plan gets actions towards its first goal; the
workers do most of them on time, some late; a neglected case's crisis-plan action is
left to fall overdue and climb the escalation ladder.

Due dates are seconds away (the demo policy reminds 5 s before), on the wall clock
the workflows' clock follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol

from application.case_client import CaseClient, CaseCommandRejected
from cases import commands as c
from cases.actors import Actor
from devtools.demo.caseload import CasePath, CaseScript
from events.vocabulary import ActionOwner, ActionOwnerKind


class CaseRun(Protocol):
    """What of demo.lifecycle.CaseRun the actions use."""

    cases: CaseClient
    script: CaseScript
    case_id: uuid.UUID
    worker: Actor


SOON = timedelta(seconds=12)
"""When the first actions fall due after the plan is approved."""
LATER = timedelta(minutes=30)


def _late(run: CaseRun) -> bool:
    """One case in four does its second action late."""
    return run.script.index % 4 == 0


async def add_actions(run: CaseRun) -> None:
    """Actions towards the plan's first goal: the client's, the worker's and, for a
    neglected case or a crisis one, one of the crisis plan."""
    goal = run.script.goals[0].goal_id
    specs: list[tuple[str, ActionOwner, timedelta, bool]] = [
        ("Bring the documents to the first appointment",
         ActionOwner(kind=ActionOwnerKind.CLIENT), LATER, False),
        ("Phone the provider to confirm the appointment",
         ActionOwner(kind=ActionOwnerKind.CASEWORKER), SOON, False),
    ]  # fmt: skip
    if run.script.path is CasePath.NEGLECTED or run.script.index % 10 == 0:
        specs.append(
            ("Check in on the crisis-line plan with the client",
             ActionOwner(kind=ActionOwnerKind.CASEWORKER), SOON, True)
        )  # fmt: skip
    if run.script.index % 3 == 0:
        specs.append(
            ("Go with the client to the viewing",
             ActionOwner(kind=ActionOwnerKind.FAMILY, name="the client's sister"), LATER, False)
        )  # fmt: skip
    for description, owner, due, crisis in specs:
        await run.cases.execute(
            run.case_id,
            c.AddAction(
                actor=run.worker,
                goal_id=goal,
                description=description,
                owner=owner,
                due_at=datetime.now(UTC) + due,  # each from its own moment: a busy machine
                crisis_plan=crisis,
            ),
        )


async def do_actions(run: CaseRun) -> None:
    """The worker's part: the client's action done; their own done on time, or (one
    case in four) after its due date; a crisis-plan action done. Not for a neglected
    case, nor one that stays open with its own action left to fall overdue."""
    if run.script.path is CasePath.NEGLECTED:
        return
    state = await run.cases.state(run.case_id)
    for action in state.actions.values():
        if not action.is_open:
            continue
        if action.owner.kind is ActionOwnerKind.CASEWORKER and not action.crisis_plan:
            if run.script.path is CasePath.ONGOING and run.script.index % 2 == 1:
                continue  # left to fall overdue: the summary counts it
            if _late(run):
                wait = (action.due_at - datetime.now(UTC)).total_seconds() + 2
                if wait > 0:
                    await asyncio.sleep(wait)
        # Overdue meanwhile is fine (done late); done or closed meanwhile: nothing to do.
        with contextlib.suppress(CaseCommandRejected):
            await run.cases.execute(
                run.case_id, c.CompleteAction(actor=run.worker, action_id=action.action_id)
            )
