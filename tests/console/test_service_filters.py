"""Finding a service to refer to, in the browser: the community's directory imported
(HSDS), the caseworker filters it from the case page by need and language, follows a
result's link to the refer form with that provider and service chosen, and refers; the
case records `ReferralMade` to the imported service."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import expect

from application.directory_import import import_directory
from directory import resolve_actor
from tests.cases import inputs
from tests.console.conftest import WAIT_MS, Stack

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hsds"
HARBOUR = "0b6a3c2e-1f1a-4e7e-9d0a-000000000001"
BEDS = "5e7c0000-0000-4000-8000-000000000001"


async def _until_services_projected(stack: Stack, service_id: str) -> None:
    """Wait until the projector has the service's HSDS profile."""
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while asyncio.get_running_loop().time() < deadline:
        if await stack.app.pool.fetchval(
            "SELECT count(*) FROM directory_services WHERE service_id = $1 AND profile IS NOT NULL",
            service_id,
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"service {service_id} not projected")


async def test_filter_the_directory_then_refer(stack: Stack) -> None:
    root = await resolve_actor(stack.app.store, "root")
    report = await import_directory(
        stack.app, root, (FIXTURES / "directory.json").read_bytes(), now=stack.clock()
    )
    assert report.added and not report.refused
    await _until_services_projected(stack, BEDS)
    case_id = await stack.open_case_with_plan("CL-FIND-1")
    alice_actor = await resolve_actor(stack.app.store, "alice")
    await stack.cases.execute(case_id, inputs.consent(actor=alice_actor, providers=(HARBOUR,)))
    await stack.until_projected(case_id)

    alice = await stack.signed_in("alice")
    await alice.goto(f"/console/cases/{case_id}")
    await alice.get_by_role("link", name="Find a service to refer to").click()
    await expect(alice.get_by_role("heading", level=1)).to_contain_text(
        "Find a service for case CL-FIND-1"
    )
    rows = alice.locator("#services-found tbody tr")
    # Every service before filtering; then by need, then by need and language.
    everything = await rows.count()
    assert everything >= 3
    await alice.get_by_label("Need").select_option("housing")
    await alice.get_by_role("button", name="Find services").click()
    await expect(rows.filter(has_text="Job club")).to_have_count(0)
    by_need = await rows.count()
    assert 2 <= by_need < everything
    await expect(rows.filter(has_text="Tenancy support")).to_have_count(1)
    await alice.get_by_label("Language (a code, such as es)").fill("es")
    await alice.get_by_role("button", name="Find services").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Emergency beds")
    await expect(rows.first).to_contain_text("Harbour Housing Trust")
    await expect(rows.first).to_contain_text("North")
    await expect(rows.first).to_contain_text("18:00–08:00 (Europe/London)")
    # The filters are kept in the page's address, and a bad one is named.
    assert "need=housing" in alice.url and "language=es" in alice.url
    await alice.get_by_label("Language (a code, such as es)").fill("not a language")
    await alice.get_by_role("button", name="Find services").click()
    await expect(alice.locator("#filter-language-error")).to_contain_text("language code")
    await alice.get_by_label("Language (a code, such as es)").fill("es")
    await alice.get_by_role("button", name="Find services").click()

    # The result's link shows the refer form with that provider and service chosen.
    await alice.get_by_role("link", name="Refer to Emergency beds (Harbour Housing Trust)").click()
    form = alice.locator("form[action$='/do/refer']")
    await expect(form.locator("#refer-provider-id")).to_have_value(HARBOUR)
    await expect(form.locator("#refer-service-id")).to_have_value(BEDS)
    await form.locator("#refer-goal-id").select_option("housing")
    await form.get_by_label("name", exact=True).check()
    await form.get_by_role("button", name="Refer").click()
    await expect(alice.locator("#outcome")).to_contain_text("Recorded: refer")
    assert f"/console/cases/{case_id}" in alice.url

    async with asyncio.timeout(WAIT_MS / 1000):
        while True:
            events = await stack.app.store.read_stream(f"case-{case_id}")
            made = [e for e in events if e.event_type == "ReferralMade"]
            if made:
                break
            await asyncio.sleep(0.1)
    assert (made[0].data["provider_id"], made[0].data["service_id"]) == (HARBOUR, BEDS)


async def test_a_case_one_may_not_see_is_not_shown(stack: Stack) -> None:
    case_id = await stack.open_case("CL-FIND-2")  # alice's, of team north
    await stack.until_projected(case_id)
    erin = await stack.signed_in("erin")  # of team south
    answer = await erin.goto(f"/console/cases/{case_id}/services?need=housing")
    assert answer is not None and answer.status == 404
    await expect(erin.get_by_role("heading", level=1)).to_contain_text("Case not found")
    await expect(erin.locator("#services-found")).to_have_count(0)
