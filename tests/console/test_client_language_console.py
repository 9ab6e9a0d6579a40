"""The client's language in the console, in a real browser over the real stack
(tests/console/conftest.py): the caseload shows each client's preferred language by its
name in the page's language, with an "interpreter" marker, read from the log (it is
personal data no read model holds); the case page's form changes it."""

from __future__ import annotations

import uuid

from playwright.async_api import Locator, Page, expect

from cases import commands as c
from directory import resolve_actor
from events.vocabulary import ClientDetails, ReferralSource
from tests.console.conftest import PASSWORD, Stack
from tests.console.test_case_work import open_from_caseload, recorded, submit


async def opened(stack: Stack, ref: str, client: ClientDetails) -> str:
    case_id = uuid.uuid4()
    await stack.cases.open(
        c.OpenCase(
            actor=await resolve_actor(stack.app.store, "carol"),
            case_id=case_id,
            client_ref=ref,
            client=client,
            referral_source=ReferralSource.SELF_REFERRAL,
            assignee=await resolve_actor(stack.app.store, "alice"),
            presenting_needs=["housing"],
        )
    )
    await stack.until_projected(str(case_id))
    return str(case_id)


def language_cell(page: Page, ref: str) -> Locator:
    row = page.locator("table.caseload tbody tr").filter(
        has=page.get_by_role("link", name=ref, exact=True)
    )
    return row.locator("td").first


async def spanish(stack: Stack, staff_id: str) -> Page:
    """A browser asking for Spanish (Accept-Language), signed in as `staff_id`."""
    context = await stack.browser.new_context(base_url=stack.url, locale="es-ES")
    stack.contexts.append(context)
    page = await context.new_page()
    await page.goto("/console/sign-in")
    await page.fill("#staff_id", staff_id)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("header.top .who")
    return page


async def test_the_caseload_shows_the_language_and_the_case_page_changes_it(
    stack: Stack,
) -> None:
    await opened(
        stack,
        "CL-LANG-C1",
        ClientDetails(name="Amparo Villanueva", preferred_language="es", interpreter_needed=True),
    )
    second = await opened(stack, "CL-LANG-C2", ClientDetails(name="Joana Bastos"))
    alice = await stack.signed_in("alice")
    await alice.goto("/console/caseload")
    await expect(alice.locator("table.caseload thead")).to_contain_text("Language")
    await expect(language_cell(alice, "CL-LANG-C1")).to_have_text("Spanish interpreter")
    await expect(language_cell(alice, "CL-LANG-C2")).to_have_text("")

    await open_from_caseload(alice, "CL-LANG-C2")
    # Each action's form waits closed in a <details> until chosen (the case page's layout).
    form = alice.locator("details.action:has(form[action$='/do/record_client_language'])")
    if await form.count() and await form.get_attribute("open") is None:
        await form.locator("summary").click()
    await alice.fill("#record_client_language-preferred-language", "pt-br")
    await alice.select_option("#record_client_language-interpreter-needed", "true")
    await submit(alice, "record_client_language")
    await recorded(alice, "record_client_language")
    await expect(alice.locator("main")).to_contain_text("Portuguese (Brazil)")
    client = (await stack.cases.state(second)).client
    assert (client.preferred_language, client.interpreter_needed) == ("pt-BR", True)
    await alice.goto("/console/caseload")
    await expect(language_cell(alice, "CL-LANG-C2")).to_have_text("Portuguese (Brazil) interpreter")

    # In Spanish: the language's name and the marker in Spanish.
    page = await spanish(stack, "alice")
    await page.goto("/console/caseload")
    await expect(page.locator("table.caseload thead")).to_contain_text("Idioma")
    await expect(language_cell(page, "CL-LANG-C1")).to_have_text("español intérprete")
    await expect(language_cell(page, "CL-LANG-C2")).to_have_text("portugués (Brasil) intérprete")
