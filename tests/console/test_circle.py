"""The circle of support and a case conference in the browser, over the real stack: a
family member added, the client's consent recorded, a conference with an agreed action,
the plan shared within consent and sharing beyond it refused beside the form."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import expect

from tests.console.conftest import Stack
from tests.console.test_case_page_layout import open_form
from tests.console.test_case_work import open_from_caseload, recorded, submit


async def test_a_circle_of_support_and_a_conference_in_the_browser(stack: Stack) -> None:
    case_id = await stack.open_case_with_plan("CL-CIRCLE-1")
    state = await stack.cases.state(case_id)
    await stack.until_projected(case_id)
    alice = await stack.signed_in("alice")
    await open_from_caseload(alice, "CL-CIRCLE-1")
    circle = alice.locator("section[aria-labelledby=circle-title]")
    await expect(circle).to_contain_text("No one recorded")

    # The client's sister joins the circle.
    await open_form(alice, "add_circle_member")
    await alice.select_option("#add_circle_member-role", "family_member")
    await alice.fill("#add_circle_member-details-name", "Mona Okonkwo")
    await alice.fill("#add_circle_member-details-relationship", "older sister")
    await alice.fill("#add_circle_member-details-contact-phone", "555-0199")
    await submit(alice, "add_circle_member")
    await recorded(alice, "add_circle_member")
    await expect(circle).to_contain_text("Mona Okonkwo")
    await expect(circle.locator("td.circle-consent")).to_have_text("nothing")

    # The client consents to share the plan and conference decisions with her.
    consent = alice.locator("form[action$='/do/record_circle_consent']")
    await open_form(alice, "record_circle_consent")
    await alice.select_option("#record_circle_consent-member-id", "member-1")
    await consent.get_by_label("plan", exact=True).check()
    await consent.get_by_label("conference decisions", exact=True).check()
    await submit(alice, "record_circle_consent")
    await recorded(alice, "record_circle_consent")
    await expect(circle.locator("td.circle-consent")).to_have_text("plan, conference decisions")

    # The plan revised with her and the supervisor taking part.
    plan_form = alice.locator("form[action$='/do/draft_plan']")
    await open_form(alice, "draft_plan")
    await alice.select_option("#draft_plan-plan-participation-participated", "true")
    await alice.select_option("#draft_plan-plan-participation-agreed", "true")
    await alice.fill("#draft_plan-plan-participants-staff", "carol")
    await plan_form.get_by_label("member-1: Mona Okonkwo (family member)").check()
    await submit(alice, "draft_plan")
    await recorded(alice, "draft_plan")
    await expect(alice.locator("p.plan-participants")).to_contain_text(
        "carol, Mona Okonkwo (member-1)"
    )

    # A case conference she takes part in agrees an action for her.
    form = alice.locator("form[action$='/do/record_conference']")
    await open_form(alice, "record_conference")
    await alice.fill("#record_conference-conference-held-on", state.opened_at.date().isoformat())
    await alice.select_option("#record_conference-conference-client-attended", "true")
    await alice.fill("#record_conference-conference-participants-staff", "alice\ncarol")
    await form.get_by_label("member-1: Mona Okonkwo (family member)").check()
    await alice.fill("#record_conference-conference-decisions", "Mona comes to the viewings")
    await alice.select_option("#record_conference-conference-actions-0-goal-id", "housing")
    await alice.fill(
        "#record_conference-conference-actions-0-description", "Drive Marguerite to the viewing"
    )
    await alice.select_option("#record_conference-conference-actions-0-owner-kind", "family")
    await alice.fill("#record_conference-conference-actions-0-owner-name", "Mona (sister)")
    due = (state.opened_at + timedelta(days=10)).date().isoformat()
    await alice.fill("#record_conference-conference-actions-0-due-at", due)
    await submit(alice, "record_conference")
    await recorded(alice, "record_conference")
    await expect(circle.locator("ul.conferences")).to_contain_text("conference-1")
    await expect(circle.locator("ul.conferences")).to_contain_text("Actions agreed: action-1")
    await expect(alice.locator("table.plan-actions")).to_contain_text("Drive Marguerite")

    # Sharing within consent is recorded; beyond it, refused beside the form.
    share = alice.locator("form[action$='/do/share_with_circle']")
    await open_form(alice, "share_with_circle")
    await alice.select_option("#share_with_circle-member-id", "member-1")
    await share.get_by_label("plan", exact=True).check()
    await submit(alice, "share_with_circle")
    await recorded(alice, "share_with_circle")
    await open_form(alice, "share_with_circle")
    await alice.select_option("#share_with_circle-member-id", "member-1")
    await share.get_by_label("contact details", exact=True).check()
    await submit(alice, "share_with_circle")
    await expect(alice.locator("form[action$='/do/share_with_circle']")).to_contain_text(
        "not consented to share contact_details"
    )
    log = await stack.app.store.read_stream(f"case-{case_id}")
    assert [e.event_type for e in log].count("SharedWithCircleMember") == 1

    # To closure: the worker asks, the supervisor approves on the case page.
    await open_form(alice, "request_closure")
    await alice.select_option("#request_closure-reason", "goals_met")
    await submit(alice, "request_closure")
    await recorded(alice, "request_closure")
    carol = await stack.signed_in("carol")
    await carol.goto(f"/console/cases/{case_id}")
    await open_form(carol, "decide_approval")
    await carol.select_option("#decide_approval-approve", "true")
    await submit(carol, "decide_approval")
    await recorded(carol, "decide_approval")
    await open_form(carol, "reopen")
    await expect(carol.locator("form[action$='/do/reopen']")).to_be_visible()
    assert (await stack.cases.state(case_id)).status.value == "closed"
    # The closed case still shows its circle and conference.
    await expect(carol.locator("section[aria-labelledby=circle-title]")).to_contain_text(
        "conference-1"
    )
