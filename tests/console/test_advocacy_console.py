"""Advocacy and the client's feedback in the browser (issue 16): open an advocacy, record
an appeal and its outcome, record the client's feedback on a provider's service, then
read the outcomes page's two tables."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Page, expect

from tests.console.conftest import PROVIDER, SERVICE, Stack
from tests.console.test_case_page_layout import open_form
from tests.console.test_case_work import open_from_caseload, recorded, submit


async def fill(page: Page, action: str, values: dict[str, str]) -> None:
    await open_form(page, action)
    for name, value in values.items():
        field = page.locator(f"form[action$='/do/{action}'] [name='{name}']")
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)


async def test_advocacy_and_feedback_in_the_browser(stack: Stack) -> None:
    case_id = await stack.open_case("CL-ADV-1")
    await stack.until_projected(case_id)
    opened = (await stack.cases.state(case_id)).opened_at.date()
    alice = await stack.signed_in("alice")
    await open_from_caseload(alice, "CL-ADV-1")

    # A guardian's consent without their name: refused naming the field, nothing written.
    advocacy = {
        "barrier": "benefit_stopped",
        "organisation": "Benefits Office",
        "action": "request",
        "consent_by": "guardian",
        "next_step": "Reconsideration decision",
        "next_step_date": (opened + timedelta(days=7)).isoformat(),
    }
    await fill(alice, "open_advocacy", advocacy)
    await submit(alice, "open_advocacy")
    form = alice.locator("form[action$='/do/open_advocacy']")
    await expect(form).to_contain_text("name the guardian who consented")
    await expect(form.locator("[name='consent_name']")).to_have_attribute("aria-invalid", "true")
    await fill(alice, "open_advocacy", {**advocacy, "consent_name": "Martha Okonkwo"})
    await submit(alice, "open_advocacy")
    await recorded(alice, "open_advocacy")
    await expect(alice.locator("#advocacy-title + table")).to_contain_text("benefit stopped")

    await fill(
        alice,
        "advocacy_step",
        {
            "advocacy_id": "advocacy-1",
            "action": "appeal",
            "next_step": "Tribunal hearing",
            "next_step_date": (opened + timedelta(days=30)).isoformat(),
        },
    )
    await submit(alice, "advocacy_step")
    await recorded(alice, "advocacy_step")
    await fill(alice, "conclude_advocacy", {"advocacy_id": "advocacy-1", "outcome": "resolved"})
    await submit(alice, "conclude_advocacy")
    await recorded(alice, "conclude_advocacy")
    await expect(alice.locator(".advocacy-outcome")).to_have_text("resolved")

    await fill(
        alice,
        "record_feedback",
        {
            "subject": "service",
            "provider_id": PROVIDER,
            "service_id": SERVICE,
            "rating": "2",
            "words": "The queue was two hours long",
        },
    )
    await submit(alice, "record_feedback")
    await recorded(alice, "record_feedback")
    await expect(alice.locator("#feedback-title + ul")).to_contain_text("rated 2/5")

    # The outcomes page, as the team's supervisor, once the read model has caught up.
    carol = await stack.signed_in("carol")
    table = carol.locator("#advocacy-outcomes")
    for _ in range(100):
        await carol.goto("/console/outcomes")
        if await table.count() and PROVIDER in await carol.content():
            break
        await carol.wait_for_timeout(200)
    await expect(table).to_contain_text("benefit stopped")
    await expect(carol.locator("#provider-feedback")).to_contain_text(PROVIDER)
