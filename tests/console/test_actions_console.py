"""A plan's actions in the browser (issue 16): add actions to a goal of the approved plan
(one refused naming its field), mark one done, drop one; they show under the plan's
goals; "My actions this week" lists the worker's open ones."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import expect

from tests.console.conftest import Stack
from tests.console.test_advocacy_console import fill
from tests.console.test_case_work import open_from_caseload, recorded, submit


async def test_plan_actions_in_the_browser(stack: Stack) -> None:
    case_id = await stack.open_case_with_plan("CL-ACT-1")
    await stack.until_projected(case_id)
    opened = (await stack.cases.state(case_id)).opened_at.date()
    alice = await stack.signed_in("alice")
    await open_from_caseload(alice, "CL-ACT-1")

    action = {
        "goal_id": "housing",
        "description": "Bring ID documents to the housing office",
        "owner.kind": "client",
        "due_at": (opened + timedelta(days=3)).isoformat(),
    }
    # Another worker's action without naming the worker: refused naming the field.
    await fill(alice, "add_action", {**action, "owner.kind": "worker"})
    await submit(alice, "add_action")
    form = alice.locator("form[action$='/do/add_action']")
    await expect(form).to_contain_text("staff_id")
    await fill(alice, "add_action", action)
    await submit(alice, "add_action")
    await recorded(alice, "add_action")
    await fill(
        alice,
        "add_action",
        {**action, "owner.kind": "family", "owner.name": "Ines (sister)",
         "description": "Go to the viewing with her", "crisis_plan": "true"},
    )  # fmt: skip
    await submit(alice, "add_action")
    await recorded(alice, "add_action")
    table = alice.locator("table.plan-actions")
    await expect(table).to_contain_text("Bring ID documents to the housing office")
    await expect(table).to_contain_text("Ines (sister)")
    await expect(table).to_contain_text("crisis plan")

    await fill(alice, "complete_action", {"action_id": "action-1", "note": "brought them"})
    await submit(alice, "complete_action")
    await recorded(alice, "complete_action")
    await fill(alice, "drop_action", {"action_id": "action-2", "reason": "viewing cancelled"})
    await submit(alice, "drop_action")
    await recorded(alice, "drop_action")
    await expect(table.locator("tr.action-done")).to_contain_text("action-1")
    await expect(table.locator("tr.action-dropped")).to_contain_text("viewing cancelled")

    # A third, due this week: on the worker's list once the read model has it.
    await fill(alice, "add_action", {**action, "description": "Sign the housing register"})
    await submit(alice, "add_action")
    await recorded(alice, "add_action")
    for _ in range(200):
        await alice.goto("/console/actions")
        if await alice.locator("table.my-actions").count():
            break
        await alice.wait_for_timeout(300)
    mine = alice.locator("table.my-actions")
    await expect(mine).to_contain_text("CL-ACT-1")
    await expect(mine).to_contain_text("action-3 (housing)")
    await expect(mine).not_to_contain_text("action-1")
    carol = await stack.signed_in("carol")
    await carol.goto("/console/actions")
    await expect(carol.locator("h2")).to_contain_text("Overdue actions by team")
