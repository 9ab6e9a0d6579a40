"""The provider portal in a real browser, as a provider's staff member uses it.

Over the served stack of tests/console/conftest.py (its worker, projector and Chromium):
two providers take their referrals in the portal (their contact channel is their portal
inbox, directory/portal.py, so nothing answers for them), each with a member signed in
with a password — pia for shelter-1, otis for pantry-2. A case of alice's refers its
client to both shelter-1 services and to pantry-2; the client consented to share her
name and presenting needs only (not her contact details nor her date of birth).

* pia lands on the portal, sees shelter-1's referrals only and, on one, only the fields
  consented; accepts it, reports progress and completes it (the case's events carry her
  as a provider, the access log her portal reads); declining the other without a reason
  is refused on the form, nothing written; pantry-2's referral reads as one that does not
  exist, nothing written (its refusal on record); axe-core finds no serious violation;
* the same in Spanish for a browser asking for it;
* the accept form sent by keyboard alone.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from playwright.async_api import Page, expect

from application import access_log, identity
from cases import commands as c
from cases.actors import Actor, Role
from directory import add_provider, add_service, add_staff, load_resource_directory, resolve_actor
from directory.portal import portal_channel
from events.choices import SharedField
from events.vocabulary import ApprovalKind, ClientContact, ClientDetails, ReferralSource
from tests.cases import inputs
from tests.console.conftest import PASSWORD, WAIT_MS, Stack
from tests.console.test_keyboard_and_zoom import check_axe, tab_to

SHELTER, PANTRY = "shelter-1", "pantry-2"
MEMBERS = {"pia": SHELTER, "otis": PANTRY}
NAME = "Marguerite Okonkwo-Hale"
PHONE = "07700 900461"
BORN = date(1984, 3, 9)
AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)
PUBLIC_URL = "https://casework.test"


async def providers(stack: Stack) -> None:
    """shelter-1 (two services) and pantry-2, taking referrals in the portal, each with a
    member who has set a password (once per module's stack)."""
    if SHELTER in (await load_resource_directory(stack.app.store)).providers:
        return
    admin = await resolve_actor(stack.app.store, "root")
    for provider_id, name, services in (
        (SHELTER, "Harbour Night Shelter", (("emergency-bed", "Emergency bed"),
                                            ("day-centre", "Day centre"))),
        (PANTRY, "Riverside Pantry", (("parcels", "Food parcels"),)),
    ):  # fmt: skip
        await add_provider(
            stack.app.store, admin, provider_id, name, "housing",
            portal_channel(PUBLIC_URL, provider_id),
        )  # fmt: skip
        for service_id, service_name in services:
            await add_service(
                stack.app.store, admin, provider_id, service_id, service_name, ["housing"]
            )
    for staff_id, provider_id in MEMBERS.items():
        await add_staff(
            stack.app.store, admin, staff_id, staff_id.title(), "provider",
            provider_id=provider_id,
        )  # fmt: skip
        invitation = await identity.invite(stack.app, admin, staff_id, now=stack.clock())
        await identity.accept_invitation(
            stack.app, staff_id, invitation.code, PASSWORD, now=stack.clock()
        )


async def referred_case(stack: Stack, ref: str) -> str:
    """alice's case with an approved plan and three referrals, each dispatched to its
    provider's portal inbox: referral-1 (shelter-1, emergency bed), referral-2
    (shelter-1, day centre), referral-3 (pantry-2, parcels); the three projected."""
    await providers(stack)
    alice = await resolve_actor(stack.app.store, "alice")
    carol = await resolve_actor(stack.app.store, "carol")
    case_id = uuid.uuid4()
    await stack.cases.open(
        c.OpenCase(
            actor=carol,
            case_id=case_id,
            client_ref=ref,
            client=ClientDetails(name=NAME, date_of_birth=BORN, contact=ClientContact(phone=PHONE)),
            referral_source=ReferralSource.SELF_REFERRAL,
            assignee=alice,
            presenting_needs=["housing"],
        )
    )
    shared = [SharedField.NAME, SharedField.PRESENTING_NEEDS]
    consent = inputs.consent(actor=alice, providers=(SHELTER, PANTRY))
    commands: list[c.Command] = [
        consent.model_copy(update={"shared_fields": shared}),
        inputs.assessment(actor=alice),
        inputs.plan(actor=alice),
        c.SubmitPlan(actor=alice),
        c.DecideApproval(actor=carol, kind=ApprovalKind.PLAN, approve=True),
    ]
    for provider_id, service_id in (
        (SHELTER, "emergency-bed"),
        (SHELTER, "day-centre"),
        (PANTRY, "parcels"),
    ):
        refer = inputs.refer(
            actor=alice, url=portal_channel(PUBLIC_URL, provider_id), provider=provider_id
        )
        commands.append(
            refer.model_copy(update={"service_id": service_id, "shared_fields": shared})
        )
    for cmd in commands:
        await stack.cases.execute(str(case_id), cmd)
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while True:  # each dispatch recorded (to the portal: no request made)
        events = await stack.app.store.read_stream(f"case-{case_id}")
        if sum(e.event_type == "ReferralDispatched" for e in events) == 3:
            break
        assert asyncio.get_running_loop().time() < deadline, [e.event_type for e in events]
        await asyncio.sleep(0.1)
    while True:  # the referrals read model has them, as sent (the portal's list reads it)
        sent = await stack.app.pool.fetchval(
            "SELECT count(*) FROM referrals WHERE case_id = $1 AND status = 'sent'", str(case_id)
        )
        if sent == 3:
            break
        assert asyncio.get_running_loop().time() < deadline, f"{sent} referrals projected"
        await asyncio.sleep(0.1)
    return str(case_id)


async def browser(stack: Stack, staff_id: str, locale: str = "en-GB") -> Page:
    """A browser of its own in `locale` (its Accept-Language), signed in with a password
    through the sign-in page; axe's script allowed in."""
    context = await stack.browser.new_context(
        base_url=stack.url,
        locale=locale,
        extra_http_headers={"Accept-Language": f"{locale},{locale[:2]}"},
        viewport={"width": 1280, "height": 900},
        bypass_csp=True,  # lets the test's own axe script in
    )
    context.set_default_timeout(WAIT_MS)
    stack.contexts.append(context)
    page = await context.new_page()
    await page.goto("/console/sign-in")
    await page.fill("#staff_id", staff_id)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("header.top .who")
    return page


async def events_of(stack: Stack, case_id: str) -> list[Any]:
    return await stack.app.store.read_stream(f"case-{case_id}")


async def log_of(stack: Stack, case_id: str, staff_id: str) -> list[tuple[str, bool]]:
    entries = await access_log.entries(stack.app.pool, AUDITOR, case_id)
    mine = sorted((e for e in entries if e.staff_id == staff_id), key=lambda e: e.access_id)
    return [(e.view, e.allowed) for e in mine]


async def listed(page: Page, case_id: str) -> list[str]:
    """The referrals of `case_id` the portal's list links to."""
    links = page.locator(f"main a[href*='/console/portal/{case_id}/']")
    return sorted(await links.all_inner_texts())


async def test_a_provider_answers_its_referrals_in_the_portal(stack: Stack) -> None:
    case_id = await referred_case(stack, "PORTAL-1")
    page = await browser(stack, "pia")

    # Signed in, a provider lands on the portal: its own referrals, not pantry-2's.
    await page.wait_for_url("**/console/portal")
    await expect(page.locator("h1")).to_have_text("Our referrals")
    assert await listed(page, case_id) == ["referral-1", "referral-2"]
    await check_axe(page, "portal list")

    # One referral: what the client consented to share, nothing else of hers.
    await page.click(f"a[href$='/console/portal/{case_id}/referral-1']")
    await page.wait_for_url(f"**/console/portal/{case_id}/referral-1")
    shared = page.locator("#shared")
    await expect(shared).to_contain_text(NAME)
    await expect(shared).to_contain_text("housing")
    text = await page.locator("main").inner_text()
    assert PHONE not in text and "1984" not in text, "contact and birth date: not consented"
    assert "Emergency bed" in text
    await check_axe(page, "portal referral")

    # Accept, report progress, complete — each through its form.
    before = len(await events_of(stack, case_id))
    await page.fill("#note-accept", "A bed from Monday")
    await page.click("form[action$='/accept'] button[type=submit]")
    await expect(page.locator("p.notice")).to_have_text("Referral accepted.")
    await page.fill("#note-progress", "Moved in, settling well")
    await page.click("form[action$='/progress'] button[type=submit]")
    await expect(page.locator("p.notice")).to_have_text("Progress report sent.")
    await page.click("form[action$='/complete'] button[type=submit]")
    await expect(page.locator("p.notice")).to_have_text("Referral completed.")
    assert await page.locator("main form").count() == 0, "nothing left to answer"
    written = (await events_of(stack, case_id))[before:]
    assert [e.event_type for e in written] == [
        "ReferralAccepted",
        "ProviderReportReceived",
        "ReferralCompleted",
    ]
    assert {(e.metadata.actor_id, e.metadata.actor_role) for e in written} == {("pia", "provider")}
    assert [e.data.get("note") or e.data.get("report") for e in written] == [
        "A bed from Monday",
        "Moved in, settling well",
        None,
    ]
    log = await log_of(stack, case_id, "pia")
    assert sorted(log[:2]) == [("portal list referral-1", True), ("portal list referral-2", True)]
    assert ("portal referral referral-1", True) in log
    assert all(allowed for _, allowed in log)

    # Declining without a reason: the form says why, nothing written.
    await page.goto(f"/console/portal/{case_id}/referral-2")
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    before = len(await events_of(stack, case_id))
    await page.click("form[action$='/decline'] button[type=submit]")
    await expect(page.locator("#portal-error")).to_have_text("Say why you decline the referral.")
    assert len(await events_of(stack, case_id)) == before
    await check_axe(page, "portal referral refused")
    await page.fill("#reason-decline", "No places in the day centre this month")
    await page.click("form[action$='/decline'] button[type=submit]")
    await expect(page.locator("p.notice")).to_have_text("Referral declined.")
    [declined] = (await events_of(stack, case_id))[before:]
    assert declined.event_type == "ReferralDeclined"
    assert declined.data["reason"] == "No places in the day centre this month"

    # Another provider's referral: the not-found page, as for one that does not exist;
    # an answer posted to it anyway (with pia's own form token) is refused the same way.
    before = len(await events_of(stack, case_id))
    missing = await page.goto(f"/console/portal/{case_id}/referral-3")
    assert missing is not None and missing.status == 404
    await expect(page.locator("main")).to_contain_text("No such referral for your organisation.")
    assert "Riverside" not in await page.locator("main").inner_text()
    await check_axe(page, "portal not found")
    posted = await page.request.post(
        f"/console/portal/{case_id}/referral-3/accept", form={"csrf": csrf, "note": "mine now"}
    )
    assert posted.status == 404
    assert len(await events_of(stack, case_id)) == before
    assert (await log_of(stack, case_id, "pia"))[-2:] == [
        ("portal referral referral-3", False),
        ("command referral_reply", False),
    ]

    # otis, for pantry-2, sees his own referral and none of shelter-1's.
    other = await browser(stack, "otis")
    await other.wait_for_url("**/console/portal")
    assert await listed(other, case_id) == ["referral-3"]


async def test_the_portal_in_spanish(stack: Stack) -> None:
    case_id = await referred_case(stack, "PORTAL-ES")
    page = await browser(stack, "pia", locale="es-ES")
    await page.wait_for_url("**/console/portal")
    assert await page.locator("html").get_attribute("lang") == "es"
    await expect(page.locator("h1")).to_have_text("Nuestras derivaciones")
    await page.goto(f"/console/portal/{case_id}/referral-2")
    await expect(page.locator("h1")).to_have_text("Derivación referral-2")
    await expect(page.locator("main")).to_contain_text(
        "Lo que el cliente aceptó compartir con ustedes"
    )
    await expect(page.locator("label[for=reason-decline]")).to_have_text(
        "Motivo (necesario para rechazar)"
    )
    before = len(await events_of(stack, case_id))
    await page.click("form[action$='/decline'] button[type=submit]")
    await expect(page.locator("#portal-error")).to_have_text(
        "Indique por qué rechaza la derivación."
    )
    assert len(await events_of(stack, case_id)) == before
    await check_axe(page, "portal referral in Spanish")
    await page.click("form[action$='/accept'] button[type=submit]")
    await expect(page.locator("p.notice")).to_have_text("Derivación aceptada.")
    missing = await page.goto(f"/console/portal/{case_id}/referral-3")
    assert missing is not None and missing.status == 404
    await expect(page.locator("main")).to_contain_text(
        "No existe esa derivación para su organización."
    )


async def test_accepting_a_referral_by_keyboard_alone(stack: Stack) -> None:
    case_id = await referred_case(stack, "PORTAL-KB")
    page = await browser(stack, "pia")
    await page.wait_for_url("**/console/portal")
    link = f"/console/portal/{case_id}/referral-1"
    await tab_to(page, f"el => el.tagName === 'A' && el.getAttribute('href').endsWith('{link}')",
                 "the referral's link")  # fmt: skip
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await tab_to(page, "el => el.id === 'note-accept'", "the accept form's note")
    await page.keyboard.type("Intake on Tuesday, typed by keyboard")
    await page.keyboard.press("Tab")
    assert await page.evaluate(
        "() => document.activeElement.type === 'submit'"
        " && document.activeElement.form.action.endsWith('/accept')"
    )
    before = len(await events_of(stack, case_id))
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await expect(page.locator("p.notice")).to_have_text("Referral accepted.")
    [accepted] = (await events_of(stack, case_id))[before:]
    assert accepted.event_type == "ReferralAccepted"
    assert accepted.data["note"] == "Intake on Tuesday, typed by keyboard"
