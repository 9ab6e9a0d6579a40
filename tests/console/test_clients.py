"""Finding the client in the console, in a real browser over the real stack (tests/
console/conftest.py): a caseworker types a misspelled name without its accents into the
header's search box, finds the client first, opens the client page (their details, the
case linked, the case page linking back); another team's caseworker finds nothing, the
client page is not found for her, and breaking the glass finds the client, marked and
recorded; a supervisor links two references and unlinks them (refusals beside the
field, a caseworker offered no form and refused one sent anyway); a one-letter query is
refused naming the field; the header's search works by keyboard alone; axe-core finds
nothing serious on the results page or the client page."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

import pytest
from playwright.async_api import Page, expect

from application.access_log import entries
from cases import commands as c
from cases.actors import Actor, Role
from directory import resolve_actor
from events.directory_events import CLIENT_LINKS_STREAM
from events.vocabulary import ClientContact, ClientDetails, ReferralSource
from tests.console.conftest import Stack
from tests.console.test_pages import AXE, browser

AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)

JOSE = ClientDetails(
    name="José Muñoz-García",
    date_of_birth=date(1984, 3, 2),
    contact=ClientContact(
        phone="+44 7700 900123", email="jose.munoz@example.org", address="12 Harbour Row, Leith"
    ),
    identifiers={"NHS number": "943 476 5919"},
)
JOSEFA = ClientDetails(name="Josefa Muñoz", date_of_birth=date(1979, 11, 23))


async def opened(stack: Stack, ref: str, client: ClientDetails, worker: str = "alice") -> str:
    """A case of `client` (opened through the application layer, as the API does)."""
    case_id = uuid.uuid4()
    await stack.cases.open(
        c.OpenCase(
            actor=await resolve_actor(stack.app.store, "carol"),
            case_id=case_id,
            client_ref=ref,
            client=client,
            referral_source=ReferralSource.SELF_REFERRAL,
            assignee=await resolve_actor(stack.app.store, worker),
            presenting_needs=["housing"],
        )
    )
    await stack.until_projected(str(case_id))
    return str(case_id)


async def header_search(page: Page, text: str) -> None:
    """Type into the header's search box and send it with Enter."""
    await page.fill("#find-client", text)
    await page.press("#find-client", "Enter")
    await page.wait_for_url(re.compile(r"/console/clients\?q="))


def results(page: Page) -> Any:
    return page.locator("table.clients tbody tr")


async def test_a_caseworker_finds_the_client_and_opens_their_page(stack: Stack) -> None:
    jose_case = await opened(stack, "CL-FIND-1", JOSE)
    await opened(stack, "CL-FIND-2", JOSEFA)

    alice = await stack.signed_in("alice")
    await alice.goto("/console/caseload")
    # A misspelling (Munos), no accents, the hyphen left out.
    await header_search(alice, "jose munos garcia")
    await expect(results(alice).first).to_contain_text("José Muñoz-García")
    await expect(results(alice).first).to_contain_text("1984-03-02")
    await expect(alice.locator("#search-q")).to_have_value("jose munos garcia")
    await results(alice).first.get_by_role("link", name="Client CL-FIND-1").click()

    await alice.wait_for_url("**/console/clients/CL-FIND-1")
    details = alice.locator("dl.facts")
    for shown in (
        "José Muñoz-García", "1984-03-02", "+44 7700 900123", "jose.munoz@example.org",
        "12 Harbour Row, Leith", "NHS number: 943 476 5919",
    ):  # fmt: skip
        await expect(details).to_contain_text(shown)
    row = alice.locator("table.client-cases tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("north")
    await expect(row).to_contain_text("alice")
    await row.get_by_role("link", name=f"Case {jose_case[:8]}").click()

    await alice.wait_for_url(f"**/console/cases/{jose_case}")
    back = alice.get_by_role("link", name=re.compile("The client CL-FIND-1"))
    await expect(back).to_be_visible()
    await back.click()
    await alice.wait_for_url("**/console/clients/CL-FIND-1")

    log = await entries(stack.app.pool, AUDITOR, jose_case)
    views = {e.view for e in log if e.staff_id == "alice" and e.allowed}
    assert {"case show search", "case show client"} <= views, views


async def test_another_teams_caseworker_finds_nothing_unless_she_breaks_the_glass(
    stack: Stack,
) -> None:
    jose_case = await opened(stack, "CL-FIND-3", JOSE.model_copy(update={"name": "José Ibáñez"}))

    erin = await stack.signed_in("erin")
    await erin.goto("/console/caseload")
    await header_search(erin, "Jose Ibanez")
    await expect(erin.get_by_role("heading", name="Nothing found")).to_be_visible()
    await expect(erin.locator("main")).to_contain_text(
        "No client found among the cases you may see"
    )
    await expect(results(erin)).to_have_count(0)
    answer = await erin.goto("/console/clients/CL-FIND-3")
    assert answer is not None and answer.status == 404
    await expect(erin.get_by_role("heading", name="Client not found")).to_be_visible()

    # Breaking the glass: the reason first, in the body; the results marked.
    await erin.goto("/console/clients?q=Jose+Ibanez")
    await erin.click("button:has-text('Search every client in an emergency')")
    await expect(erin.locator("#bg-reason-error")).to_contain_text("Say why")
    await erin.fill("#bg-reason", "Client at our front desk, no id")
    await erin.click("button:has-text('Search every client in an emergency')")
    await expect(erin.locator("#outcome")).to_contain_text("Emergency access")
    first = results(erin).first
    await expect(first).to_contain_text("José Ibáñez")
    await expect(first).to_contain_text("emergency access")
    await first.get_by_role("button", name="Client CL-FIND-3").click()
    await expect(erin.get_by_role("heading", name="Client CL-FIND-3")).to_be_visible()
    await expect(erin.locator("#outcome")).to_contain_text("Client at our front desk, no id")
    await expect(erin.locator("#link-other_ref")).to_have_count(0)

    log = await entries(stack.app.pool, AUDITOR, jose_case)
    glass = [e for e in log if e.staff_id == "erin" and e.break_glass and e.allowed]
    assert {e.view for e in glass} == {"case show search", "case show client"}, log
    assert all(e.reason == "Client at our front desk, no id" for e in glass), glass


async def test_a_supervisor_links_two_references_and_unlinks_them(stack: Stack) -> None:
    await opened(
        stack, "CL-LINK-1", ClientDetails(name="Pepe García", date_of_birth=date(1960, 5, 5))
    )
    await opened(stack, "CL-LINK-2", ClientDetails(name="José García Pérez"))

    alice = await stack.signed_in("alice")
    await alice.goto("/console/clients/CL-LINK-1")
    await expect(alice.get_by_role("heading", name="Linked references")).to_be_visible()
    await expect(alice.locator("#link-other_ref")).to_have_count(0)
    csrf = await alice.locator("input[name=csrf]").first.input_value()
    sent = await alice.request.post(
        "/console/clients/CL-LINK-1/links",
        form={"csrf": csrf, "other_ref": "CL-LINK-2", "reason": "same person"},
    )
    assert sent.status == 403

    carol = await stack.signed_in("carol")
    await carol.goto("/console/clients/CL-LINK-1")
    link = carol.locator("form[action$='/links']")
    # Refused beside the field it names, what was typed kept.
    await carol.fill("#link-other_ref", "CL-NOBODY")
    await carol.fill("#link-reason", "Same NHS number, confirmed with the client")
    await link.get_by_role("button", name="Link the references").click()
    await expect(carol.locator("#link-other_ref-error")).to_contain_text(
        "no client CL-NOBODY with a case you may see"
    )
    await expect(carol.locator("#link-reason")).to_have_value(
        "Same NHS number, confirmed with the client"
    )
    await carol.fill("#link-other_ref", "CL-LINK-2")
    await link.get_by_role("button", name="Link the references").click()
    await expect(carol.locator("#outcome")).to_contain_text(
        "Recorded: CL-LINK-1 linked to CL-LINK-2"
    )
    linked = carol.locator("ul.linked li")
    await expect(linked).to_have_count(1)
    await expect(linked.get_by_role("link", name="Client CL-LINK-2")).to_be_visible()
    # Twice: refused.
    await carol.fill("#link-other_ref", "CL-LINK-2")
    await carol.fill("#link-reason", "again")
    await carol.locator("form[action$='/links']").get_by_role("button").click()
    await expect(carol.locator("#link-other_ref-error")).to_contain_text("linked already")

    # The other reference's page shows the link too; unlinked from there.
    await linked.get_by_role("link", name="Client CL-LINK-2").click()
    await carol.wait_for_url("**/console/clients/CL-LINK-2")
    unlink = carol.locator("ul.linked li", has_text="CL-LINK-1")
    await unlink.get_by_role("button", name="Unlink CL-LINK-1").click()
    await expect(carol.locator("#unlink-1-reason-error")).to_be_visible()
    await carol.fill("#unlink-1-reason", "Two people: different dates of birth")
    await carol.get_by_role("button", name="Unlink CL-LINK-1").click()
    await expect(carol.locator("#outcome")).to_contain_text(
        "Recorded: CL-LINK-2 no longer linked to CL-LINK-1"
    )
    await expect(carol.locator("ul.linked")).to_have_count(0)
    await expect(carol.locator("main")).to_contain_text("No other reference is linked")

    events = await stack.app.store.read_stream(CLIENT_LINKS_STREAM)
    assert [(e.event_type, e.metadata.actor_id) for e in events[-2:]] == [
        ("ClientsLinked", "carol"), ("ClientsUnlinked", "carol"),
    ]  # fmt: skip


async def test_a_query_that_cannot_be_searched_is_refused_beside_its_field(stack: Stack) -> None:
    alice = await stack.signed_in("alice")
    await alice.goto("/console/caseload")
    await header_search(alice, "J")
    await expect(alice.locator("#search-q-error")).to_have_text("q: a single character")
    await expect(alice.locator("#search-q")).to_have_attribute("aria-invalid", "true")
    await expect(alice.locator("#search-q")).to_have_value("J")
    await expect(alice.locator(".error-summary")).to_contain_text("q: a single character")
    await expect(results(alice)).to_have_count(0)
    answer = await alice.request.get("/console/clients?q=J")
    assert answer.status == 422
    # Beside the field it names: the phone, on the results page's own form.
    await alice.fill("#search-q", "")
    await alice.fill("#search-phone", "123")
    await alice.locator("main form").get_by_role("button", name="Search").click()
    await expect(alice.locator("#search-phone-error")).to_contain_text("phone: needs at least")
    await expect(alice.locator("#search-q-error")).to_have_count(0)
    # Nothing typed at all: refused, naming the text.
    await alice.goto("/console/clients?q=")
    await expect(alice.locator("#search-q-error")).to_have_text("q: nothing to search for")
    # The page itself, no query sent: the form, nothing refused.
    await alice.goto("/console/clients")
    await expect(alice.locator("#search-q")).to_be_visible()
    await expect(alice.locator(".field-error")).to_have_count(0)


async def test_the_header_search_works_by_keyboard_alone(stack: Stack) -> None:
    await opened(stack, "CL-KEYS-1", ClientDetails(name="Siobhán Ní Bhriain"))
    alice = await stack.signed_in("alice")
    await alice.goto("/console/caseload")

    async def focused() -> str:
        found: str = await alice.evaluate(
            "(() => { const e = document.activeElement;"
            " return e ? (e.id || e.tagName + ':' + (e.textContent || '').trim()) : '' })()"
        )
        return found

    for _ in range(40):
        await alice.keyboard.press("Tab")
        if await focused() == "find-client":
            break
    else:
        pytest.fail("the header's search box is not reachable with Tab")
    await alice.keyboard.type("Siobhan Ni Bhriain")
    await alice.keyboard.press("Tab")
    assert await focused() == "BUTTON:Search"
    await alice.keyboard.press("Enter")
    await alice.wait_for_url(re.compile(r"/console/clients\?q=Siobhan"))
    await expect(results(alice).first).to_contain_text("Siobhán Ní Bhriain")

    # Enter in the box sends it too, from any page (here the results page).
    for _ in range(40):
        await alice.keyboard.press("Tab")
        if await focused() == "find-client":
            break
    else:
        pytest.fail("the header's search box is not reachable with Tab")
    await alice.keyboard.type("Siobhan")
    await alice.keyboard.press("Enter")
    await alice.wait_for_url(re.compile(r"/console/clients\?q=Siobhan$"))
    await expect(results(alice).first).to_contain_text("Siobhán Ní Bhriain")


async def no_serious_violation(page: Page, name: str) -> None:
    """axe-core as test_pages.py runs it (without its screenshots)."""
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


async def test_the_results_and_the_client_page_pass_axe(stack: Stack) -> None:
    await opened(stack, "CL-AXE-1", JOSE.model_copy(update={"name": "Amélie Durand"}))
    await opened(stack, "CL-AXE-2", ClientDetails(name="Amelia Durand"))

    carol = await browser(stack, "carol")
    await carol.goto("/console/clients?q=Amelie+Durand")
    await expect(results(carol)).to_have_count(2)
    await expect(
        carol.get_by_role("heading", name="Emergency access (break the glass)")
    ).to_be_visible()
    await no_serious_violation(carol, "clients")
    await carol.goto("/console/clients?q=A&phone=12")
    await expect(carol.locator("#search-q-error")).to_be_visible()
    await no_serious_violation(carol, "clients-refused")

    await carol.goto("/console/clients/CL-AXE-1")
    await carol.fill("#link-other_ref", "CL-AXE-2")
    await carol.fill("#link-reason", "Same identifier, confirmed")
    await carol.get_by_role("button", name="Link the references").click()
    await expect(carol.locator("#outcome")).to_contain_text("linked to CL-AXE-2")
    await carol.fill("#link-other_ref", "CL-AXE-1")
    await carol.fill("#link-reason", "Same identifier, confirmed")
    await carol.get_by_role("button", name="Link the references").click()
    await expect(carol.locator("#link-other_ref-error")).to_be_visible()
    await no_serious_violation(carol, "client")
