"""The console on the application layer: its reads carry the sign-in method into the
access log; the transfers and approvals inboxes send the version they showed, and a
case that moved on meanwhile is a conflict that shows what changed and keeps what was
typed; the audit view names a broken link of the case's chain."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import expect

from application import access_log
from application.read_models import MAX_LIMIT, PageRequest
from application.transfers import pending_transfers
from cases import commands as c
from cases.actors import Actor
from casework.console import case_page, caseload
from directory import resolve_actor
from events.vocabulary import ClientDetails, ReferralSource
from tests.cases import inputs
from tests.console.conftest import WAIT_MS, Stack


async def _actor(stack: Stack, staff_id: str) -> Actor:
    return await resolve_actor(stack.app.store, staff_id)


async def _open(stack: Stack, ref: str, worker: str) -> str:
    """A case of `worker`'s team, opened by the manager."""
    case_id = uuid.uuid4()
    await stack.cases.open(
        c.OpenCase(
            actor=await _actor(stack, "max"), case_id=case_id, client_ref=ref,
            client=ClientDetails(name="Theodora Vance-Mbeki"),
            referral_source=ReferralSource.SELF_REFERRAL,
            assignee=await _actor(stack, worker), presenting_needs=["housing"],
        )
    )  # fmt: skip
    return str(case_id)


async def _until(what: str, check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (generously: the machine is shared) until `check()` is true."""
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not seen in time: {what}")


async def test_a_console_read_records_the_sign_in_method(stack: Stack) -> None:
    case_id = await stack.open_case("CL-METHOD-1")
    await stack.until_projected(case_id)
    alice = await stack.signed_in("alice")
    await alice.goto(f"/console/cases/{case_id}")
    await expect(alice.get_by_role("heading", level=1)).to_contain_text("CL-METHOD-1")
    entries = await access_log.entries(stack.app.pool, await _actor(stack, "max"), case_id)
    reads = [e for e in entries if e.staff_id == "alice" and e.view == "case show"]
    assert reads, entries
    assert reads[0].auth_method == "password"
    assert reads[0].credential_id and reads[0].request_id and reads[0].client_address


async def test_a_transfer_answered_for_a_case_that_moved_on_is_a_conflict(stack: Stack) -> None:
    case_id = await _open(stack, "CL-TRANSFER-1", "erin")
    manager = await _actor(stack, "max")
    await stack.cases.execute(case_id, c.RequestTransfer(
        actor=manager, to_team="north", to_worker=await _actor(stack, "alice"),
        reason="Client moved to the north side",
    ))  # fmt: skip
    alice_actor = await _actor(stack, "alice")

    async def listed() -> bool:
        page = await pending_transfers(stack.app, alice_actor, PageRequest(limit=MAX_LIMIT))
        return any(t.case_id == case_id for t in page.items)

    await _until("the transfer in alice's inbox", listed)
    alice = await stack.signed_in("alice")
    await alice.goto("/console/transfers")
    row = alice.locator("section.approval", has_text="CL-TRANSFER-1")
    await expect(row).to_contain_text("Client moved to the north side")
    await expect(row).to_contain_text("from team south")
    # Meanwhile the case moves on.
    await stack.cases.execute(case_id, c.RecordNote(actor=manager, text="Called the landlord"))
    await row.get_by_label("Accept", exact=True).check()
    await row.get_by_label("Reason (needed to reject)").fill("Happy to take it")
    await row.get_by_role("button", name="Send the answer").click()
    row = alice.locator("section.approval", has_text="CL-TRANSFER-1")
    await expect(row.locator(".field-error")).to_contain_text("The case changed")
    await expect(row.get_by_label("Reason (needed to reject)")).to_have_value("Happy to take it")
    await expect(row.get_by_label("Accept", exact=True)).to_be_checked()
    state = await stack.cases.state(case_id)
    assert state.pending_transfer is not None and state.assigned_worker == "erin"  # nothing sent
    # The page now carries the case's new version: sent again, it is recorded.
    await row.get_by_role("button", name="Send the answer").click()
    await expect(alice.locator(".notice")).to_contain_text("Transfer accepted")
    state = await stack.cases.state(case_id)
    assert (state.assigned_worker, state.team, state.pending_transfer) == ("alice", "north", None)


async def test_an_approval_decided_on_a_case_that_moved_on_shows_what_changed(
    stack: Stack,
) -> None:
    case_id = await stack.open_case("CL-APPROVE-1")
    alice = await _actor(stack, "alice")
    for cmd in (inputs.consent(actor=alice), inputs.assessment(actor=alice),
                inputs.plan(actor=alice), c.SubmitPlan(actor=alice)):  # fmt: skip
        await stack.cases.execute(case_id, cmd)
    await stack.until_projected(case_id)
    carol = await stack.signed_in("carol")

    async def shown() -> bool:
        await carol.goto("/console/approvals")
        return await carol.locator("section.approval", has_text="CL-APPROVE-1").count() > 0

    await _until("the plan in carol's inbox", shown)
    row = carol.locator("section.approval", has_text="CL-APPROVE-1")
    # Meanwhile alice writes a note on the case.
    await stack.cases.execute(case_id, c.RecordNote(actor=alice, text="Client phoned in"))
    await row.get_by_label("Return", exact=True).check()
    await row.get_by_label("Reason for returning it (one a line)").fill("Add a crisis plan")
    await row.get_by_label("Note (optional)").fill("See me on Monday")
    await row.get_by_role("button", name="Send the decision").click()
    row = carol.locator("section.approval", has_text="CL-APPROVE-1")
    changed = row.locator(".conflict")
    await expect(changed).to_contain_text("This case changed while you were deciding")
    await expect(changed.locator("ol.changes li")).to_have_count(1)
    await expect(changed.locator("ol.changes li")).to_contain_text("alice")
    await expect(changed.locator("ol.changes li")).to_contain_text("note")
    reason = row.get_by_label("Reason for returning it (one a line)")
    await expect(reason).to_have_value("Add a crisis plan")
    await expect(row.get_by_label("Note (optional)")).to_have_value("See me on Monday")
    await expect(row.get_by_label("Return", exact=True)).to_be_checked()
    assert (await stack.cases.state(case_id)).approvals, "nothing may be recorded"
    # The read of what changed is on record, as a read of the case's history.
    entries = await access_log.entries(stack.app.pool, await _actor(stack, "max"), case_id)
    assert any(e.staff_id == "carol" and e.view == "case history" for e in entries), entries
    # Sent again (the form now carries the new version), the decision is recorded.
    await row.get_by_role("button", name="Send the decision").click()
    await expect(carol.locator(".notice")).to_contain_text("Decision recorded: returned")
    assert not (await stack.cases.state(case_id)).approvals


async def test_the_audit_view_names_a_broken_link(stack: Stack) -> None:
    case_id = await stack.open_case("CL-TAMPER-1")
    alice = await _actor(stack, "alice")
    await stack.cases.execute(case_id, inputs.consent(actor=alice))
    await stack.cases.execute(case_id, c.RecordNote(actor=alice, text="First visit booked"))
    await stack.until_projected(case_id, 1)  # located: the audit view reads the case's history
    last = await stack.app.store.stream_version(f"case-{case_id}")
    # What a superuser could do behind the engine's back: rewrite the last event.
    async with stack.app.pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await conn.execute(
            """UPDATE events SET metadata = jsonb_set(metadata, '{actor_id}', '"mallory"')
                WHERE stream_id = $1 AND stream_version = $2""",
            f"case-{case_id}",
            last,
        )
        await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
    audrey = await stack.signed_in("audrey")
    await audrey.goto(f"/console/audit/{case_id}")
    await expect(audrey.locator(".chain-broken")).to_contain_text(f"Broken at version {last}")
    await expect(audrey.locator(".chain-broken")).to_contain_text("altered")
    trail = audrey.locator("table.audit tbody tr")
    await expect(trail).to_have_count(last)
    await expect(audrey.locator("table.audit tbody tr.broken")).to_have_count(1)
    await expect(trail.nth(last - 1)).to_contain_text("mallory")
    await expect(trail.nth(last - 2)).not_to_have_class("broken")


async def test_long_lists_are_shown_in_parts(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caseload pages and the case page shows its latest events (at tiny sizes here:
    the sizes are the modules' constants)."""
    monkeypatch.setattr(caseload, "PAGE_SIZE", 2)
    monkeypatch.setattr(case_page, "TIMELINE_SHOWN", 2)
    case_ids = [await stack.open_case(f"CL-PAGED-{n}") for n in range(3)]
    for case_id in case_ids:
        await stack.until_projected(case_id)
    alice = await stack.signed_in("alice")
    await alice.goto("/console/caseload")
    caption = alice.locator("table.caseload caption")
    await expect(caption).to_contain_text("Open cases 1–2 of")
    first = await alice.locator("table.caseload tbody th").all_inner_texts()
    assert len(first) == 2
    await alice.get_by_role("link", name="Next").click()
    await expect(caption).to_contain_text("Open cases 3–")
    second = await alice.locator("table.caseload tbody th").all_inner_texts()
    assert second and not set(first) & set(second)
    refused = await alice.goto("/console/caseload?page=first")
    assert refused is not None and refused.status == 422
    await expect(alice.locator(".field-error")).to_contain_text("page:")

    # The case's timeline, a page at a time (from the timeline read model), the newest
    # first: the older pages one after the other until the first event, then back.
    alice_actor = await _actor(stack, "alice")
    for n in range(3):
        await stack.cases.execute(
            uuid.UUID(case_ids[0]), c.RecordNote(actor=alice_actor, text=f"A private note {n}")
        )
    events = await stack.app.store.stream_version(f"case-{case_ids[0]}")
    assert events >= 5  # opened, its review scheduled, three notes: three pages
    await alice.goto(f"/console/cases/{case_ids[0]}")
    timeline = alice.locator("ol.timeline li")
    await expect(timeline).to_have_count(2)
    await expect(alice.get_by_text(f"Events {events - 1}–{events} of {events}")).to_be_visible()
    await expect(timeline.first).to_contain_text("Case note")
    await expect(alice.locator("#timeline-title ~ ol")).not_to_contain_text("A private note")
    assert not await alice.get_by_role("link", name="Newer events").count()
    seen: list[int] = []
    while True:
        versions = [int(v or 0) for v in await timeline.evaluate_all(
            "items => items.map(li => li.getAttribute('value'))"
        )]  # fmt: skip
        assert 1 <= len(versions) <= 2 and versions == sorted(versions, reverse=True)
        seen.extend(versions)
        older = alice.get_by_role("link", name="Older events")
        if not await older.count():
            break
        await older.click()
        await expect(timeline.first).to_have_attribute("value", str(versions[-1] - 1))
    assert seen == list(range(events, 0, -1))  # every event once, the newest first
    await alice.get_by_role("link", name="Newer events").click()
    await expect(timeline.first).to_have_attribute("value", str(min(events, versions[0] + 2)))
