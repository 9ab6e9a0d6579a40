"""Every console page in a real browser: axe-core (from the npm registry, pinned in
tools/node/package-lock.json) finds no serious or critical accessibility violation,
and each page's screenshot is written to docs/screenshots/ for the README."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from cases import commands as c
from cases.actors import Actor
from directory import resolve_actor
from events.vocabulary import ClientParticipation, Domain, DomainRating, Goal, GoalKind, GoalTerm
from tests.console.conftest import PASSWORD, Stack

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tools" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"


async def check(page: Page, name: str) -> None:
    """No serious or critical axe violation on the page as it stands; a screenshot."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make` (npm ci in tools/node)")
    await page.evaluate(AXE.read_text())
    found: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in found["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def browser(stack: Stack, staff_id: str | None) -> Page:
    """A browser that lets the test's own axe script in (CSP bypassed for the test only)."""
    context = await stack.browser.new_context(
        base_url=stack.url, bypass_csp=True, viewport={"width": 1280, "height": 900}
    )
    stack.contexts.append(context)
    page = await context.new_page()
    if staff_id is not None:
        await page.goto("/console/sign-in")
        await page.fill("#staff_id", staff_id)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("header.top .who")
    return page


async def worked_case(stack: Stack, actor: Actor) -> str:
    """A case with consent, an assessment and a submitted plan (application layer)."""
    case_id = await stack.open_case("CL-PAGES-1")
    cases = stack.cases
    await cases.execute(case_id, c.RecordConsent(actor=actor, shared_fields=["name"]))
    await cases.execute(
        case_id,
        c.RecordAssessment(
            actor=actor,
            assessment=c.AssessmentInput(
                domains={
                    Domain.HOUSING: DomainRating(rating=3, notes="Sofa-surfing"),
                    Domain.INCOME: DomainRating(rating=2),
                },
                strengths=["Close to her sister"],
                barriers=["Rent arrears"],
                client_priorities=["A safe home"],
            ),
        ),
    )
    goal = Goal(
        goal_id="goal-1", client_words="I want a place of my own", domain=Domain.HOUSING,
        term=GoalTerm.SHORT, kind=GoalKind.LOGISTICAL, objective="Signed tenancy agreement",
        target_date=date(2031, 3, 1),
    )  # fmt: skip
    await cases.execute(
        case_id,
        c.DraftPlan(
            actor=actor,
            plan=c.PlanInput(
                goals=[goal], participation=ClientParticipation(participated=True, agreed=True)
            ),
        ),
    )
    await cases.execute(case_id, c.SubmitPlan(actor=actor))
    await stack.until_projected(case_id)
    return case_id


async def test_every_page_passes_axe(stack: Stack) -> None:
    alice_actor = await resolve_actor(stack.app.store, "alice")
    case_id = await worked_case(stack, alice_actor)

    anonymous = await browser(stack, None)
    await anonymous.goto("/console/sign-in")
    await check(anonymous, "sign-in")
    await anonymous.goto("/console/sign-in?why=ended")
    await check(anonymous, "session-ended")

    alice = await browser(stack, "alice")
    await alice.goto("/console/caseload")
    await alice.wait_for_selector("text=CL-PAGES-1")
    await check(alice, "caseload")
    await alice.goto(f"/console/cases/{case_id}")
    await check(alice, "case")
    await alice.goto("/console/transfers")
    await check(alice, "transfers")

    carol = await browser(stack, "carol")
    await carol.goto("/console/approvals")
    await carol.wait_for_selector("text=CL-PAGES-1")
    await check(carol, "approvals")
    await carol.goto("/console/board")
    await check(carol, "board")
    await carol.goto("/console/outcomes")
    await check(carol, "outcomes")

    erin = await browser(stack, "erin")
    await erin.goto(f"/console/cases/{uuid.uuid4()}")
    await check(erin, "case-not-visible")

    audrey = await browser(stack, "audrey")
    await audrey.goto("/console/audit")
    await check(audrey, "audit-home")
    await audrey.goto(f"/console/audit/{case_id}")
    await check(audrey, "audit")

    root = await browser(stack, "max")
    await root.goto("/console/directory")
    await check(root, "directory")
