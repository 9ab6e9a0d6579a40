"""Signing in and out of the console in a real browser: the session cookie's flags, the
security headers, CSRF refusals, a timed-out session and a locked account."""

from __future__ import annotations

from datetime import timedelta

from tests.console.conftest import PASSWORD, Stack


async def test_sign_in_sets_a_safe_cookie_and_headers(stack: Stack) -> None:
    page = await stack.new_page()
    answer = await page.goto("/console/caseload")
    assert answer is not None
    assert page.url.endswith("/console/sign-in?next=/console/caseload")
    await page.fill("#staff_id", "alice")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/caseload")
    assert await page.locator("header.top .who").inner_text() == "alice · caseworker · team north"
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["casework_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/console"
    assert not session["secure"]  # plain HTTP here; Secure when served over HTTPS
    shown = await page.reload()
    assert shown is not None
    headers = shown.headers
    assert headers["cache-control"] == "no-store"
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


async def test_wrong_password_then_lockout_page(stack: Stack) -> None:
    page = await stack.new_page()
    await page.goto("/console/sign-in")
    for _ in range(4):
        await page.fill("#staff_id", "sam")
        await page.fill("#password", "not the password")
        await page.click("button[type=submit]")
        await page.wait_for_selector(".error-summary")
        assert "wrong staff id, password or code" in await page.inner_text(".error-summary")
        assert await page.input_value("#staff_id") == "sam"
    await page.fill("#password", "not the password")
    await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Account locked')")
    assert "locked until" in await page.inner_text("main")
    # Even the right password is refused while the lock lasts.
    await page.goto("/console/sign-in")
    await page.fill("#staff_id", "sam")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Account locked')")


async def test_an_idle_session_ends_with_a_clear_page(stack: Stack) -> None:
    page = await stack.signed_in("max")
    stack.clock.offset += timedelta(minutes=31)
    try:
        await page.goto("/console/board")
        await page.wait_for_url("**/console/sign-in?why=ended&next=/console/board")
        assert "Your session has ended" in await page.inner_text("main")
    finally:
        stack.clock.offset -= timedelta(minutes=31)
    # Signing in again brings the person back where they were going.
    await page.fill("#staff_id", "max")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/board")


async def test_sign_out_revokes_the_session(stack: Stack) -> None:
    page = await stack.signed_in("erin")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "casework_session")
    await page.click("header.top button:has-text('Sign out')")
    await page.wait_for_url("**/console/sign-in?why=signed-out")
    # The old cookie, replayed, is refused: the session is revoked server-side.
    other = await stack.new_page()
    await other.context.add_cookies(
        [{"name": cookie["name"], "value": cookie["value"], "url": stack.url + "/console/"}]
    )
    await other.goto("/console/caseload")
    await other.wait_for_url("**/console/sign-in?why=ended**")


async def test_a_form_without_its_csrf_token_does_nothing(stack: Stack) -> None:
    case_id = await stack.open_case("CL-CSRF-1")
    page = await stack.signed_in("alice")
    before = await stack.app.store.stream_version(f"case-{case_id}")
    # A cross-site form post carries the cookie (SameSite=Lax lets top-level POSTs from
    # the same site through) but cannot know the token.
    answer = await page.request.post(
        f"/console/cases/{case_id}/do/record_note",
        form={"version": str(before), "text": "forged", "csrf": "guess"},
    )
    assert answer.status == 403
    assert "The form had expired" in await answer.text()
    assert await stack.app.store.stream_version(f"case-{case_id}") == before
