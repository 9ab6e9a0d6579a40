"""Single sign-on in the console, in a real browser, with the real OpenID Connect provider
of the front-door tests (tools/node/oidc_provider.mjs; its development login page takes
any login, whose `sub` is the login, and so names the staff member).

The console is served a second time over the module's stack (the same database,
Temporal and projector) with single sign-on configured, on a free port the provider's
console client accepts as its redirect URI, and with a clock of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import BrowserContext, Page, Response

from application.bootstrap import Casework
from casework.api.app import create_api
from directory import deactivate_staff, resolve_actor
from infrastructure.embedded_postgres import free_port
from infrastructure.settings import Settings
from tests.console.conftest import PASSWORD, WAIT_MS, Clock, Stack
from tests.console.test_pages import check
from tests.oidc_provider import (
    CONSOLE_CLIENT,
    CONSOLE_SECRET,
    OidcProvider,
    running_oidc_provider,
)

PROVIDER_NAME = "Northside Sign-in"
CALLBACK = "/console/sign-in/oidc/callback"


@dataclass
class SsoConsole:
    """The console with single sign-on, its provider, and the browsers opened on it."""

    url: str
    app: Casework
    clock: Clock
    provider: OidcProvider
    stack: Stack
    contexts: list[BrowserContext] = field(default_factory=list)

    async def new_page(self, base_url: str | None = None) -> Page:
        context = await self.stack.browser.new_context(base_url=base_url or self.url)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        return await context.new_page()

    async def start(self, page: Page, path: str = "/console/sign-in") -> None:
        """From `path`, follow "Sign in with …" to the provider's login page."""
        await page.goto(path)
        await page.click(f"a:has-text('Sign in with {PROVIDER_NAME}')")
        await page.wait_for_selector("input[name=login]")
        assert page.url.startswith(self.provider.issuer)

    async def log_in_at_provider(self, page: Page, login: str) -> None:
        """The provider's development login page (any password), then its consent."""
        await page.fill("input[name=login]", login)
        await page.fill("input[name=password]", "any password: the provider ignores it")
        await page.click("button:has-text('Sign-in')")
        # The consent page, unless this login consented already (then straight back).
        consent = page.locator("button:has-text('Continue')")
        await page.locator("button:has-text('Continue'), a.skip").first.wait_for()
        if await consent.count():
            await consent.click()


@contextlib.asynccontextmanager
async def serving(api: FastAPI, port: int) -> AsyncIterator[str]:
    """`api` served by uvicorn on `port` of the loopback, for the block."""
    server = uvicorn.Server(
        uvicorn.Config(
            api, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
    )
    task = asyncio.create_task(server._serve())  # no signal handlers of its own
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def sso_settings(stack: Stack, issuer: str) -> Settings:
    return Settings(
        task_queue=stack.app.settings.task_queue,
        metrics_port=0,
        oidc_issuer=issuer,
        oidc_client_id=CONSOLE_CLIENT,
        oidc_client_secret=CONSOLE_SECRET,
        oidc_provider_name=PROVIDER_NAME,
    )


def console_api(stack: Stack, settings: Settings, clock: Clock) -> tuple[FastAPI, Casework]:
    app = replace(stack.app, settings=settings, oidc_verifier=None)
    api = create_api(settings, casework=app, clock=clock)
    api.state.console_sign_in_limit = 1000  # every browser here comes from 127.0.0.1
    return api, app


@pytest.fixture(scope="module")
async def sso(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SsoConsole]:
    port = free_port()
    callback = f"http://127.0.0.1:{port}{CALLBACK}"
    workdir: Path = tmp_path_factory.mktemp("console-sso")
    with contextlib.ExitStack() as exits:

        def start() -> OidcProvider:  # blocks while the provider starts: off the loop
            return exits.enter_context(
                running_oidc_provider(workdir, tag="console", redirect_uris=[callback])
            )

        provider = await asyncio.to_thread(start)
        clock = Clock()
        api, app = console_api(stack, sso_settings(stack, provider.issuer), clock)
        async with serving(api, port) as url:
            console = SsoConsole(url, app, clock, provider, stack)
            try:
                yield console
            finally:
                for context in console.contexts:
                    with contextlib.suppress(Exception):
                        await context.close()


def callbacks(page: Page) -> list[str]:
    """The console callback URLs the page is sent to, as they happen."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if CALLBACK in r.url else None)
    return seen


async def live_sessions(app: Casework, staff_id: str, method: str) -> int:
    count: int = await app.pool.fetchval(
        """SELECT count(*) FROM staff_sessions
            WHERE staff_id = $1 AND method = $2 AND revoked_at IS NULL""",
        staff_id,
        method,
    )
    return count


async def pending_rows(app: Casework) -> int:
    count: int = await app.pool.fetchval("SELECT count(*) FROM oidc_pending_sign_ins")
    return count


async def test_sign_in_with_the_provider_lands_on_the_caseload(sso: SsoConsole) -> None:
    page = await sso.new_page()
    seen = callbacks(page)
    provider_urls: list[str] = []
    page.on(
        "request",
        lambda r: provider_urls.append(r.url) if r.url.startswith(sso.provider.issuer) else None,
    )
    before = await live_sessions(sso.app, "alice", "oidc")
    # A page that needs a session sends the browser to sign in, and back there after.
    await page.goto("/console/caseload")
    assert page.url.endswith("/console/sign-in?next=/console/caseload")
    button = page.locator("#sso")
    assert await button.inner_text() == f"Sign in with {PROVIDER_NAME}"
    await button.click()
    await page.wait_for_selector("input[name=login]")
    # The authorization request: code flow with PKCE (S256), state and nonce; the
    # verifier is kept server-side, under a key only the browser's cookie holds.
    authorize = next(u for u in provider_urls if "/auth?" in u)
    assert "response_type=code" in authorize and "code_challenge_method=S256" in authorize
    assert "state=" in authorize and "nonce=" in authorize
    row = await sso.app.pool.fetchrow(
        "SELECT key_hash, state, nonce, code_verifier, next_path FROM oidc_pending_sign_ins "
        "WHERE url = $1",
        authorize,
    )
    assert row is not None and row["next_path"] == "/console/caseload"
    assert row["code_verifier"] not in authorize
    cookies = {c["name"]: c for c in await page.context.cookies(sso.url + CALLBACK)}
    kept = cookies["casework_sso"]
    assert kept["httpOnly"] and kept["sameSite"] == "Lax"
    assert kept["path"] == "/console/sign-in/oidc"
    assert hashlib.sha256(kept["value"].encode()).digest() == row["key_hash"]
    assert kept["value"] not in authorize

    await sso.log_in_at_provider(page, "alice")
    await page.wait_for_url("**/console/caseload")
    assert await page.locator("header.top .who").inner_text() == "alice · caseworker · team north"
    assert await live_sessions(sso.app, "alice", "oidc") == before + 1
    # The same session cookie as a password sign-in; the started sign-in is gone.
    cookies = {c["name"]: c for c in await page.context.cookies(sso.url + CALLBACK)}
    session = cookies["casework_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/console"
    assert "casework_sso" not in cookies
    assert (
        await sso.app.pool.fetchval(
            "SELECT count(*) FROM oidc_pending_sign_ins WHERE key_hash = $1", row["key_hash"]
        )
        == 0
    )
    # Nothing secret went through a console URL: the code and state the provider sends
    # back are the only parameters of the callback.
    assert len(seen) == 1 and row["code_verifier"] not in seen[0] and row["nonce"] not in seen[0]

    # The provider's answer is used once: replayed, it signs nobody in.
    other = await sso.new_page()
    answer = await other.goto(seen[0])
    assert answer is not None and answer.status == 400
    assert await other.locator("h1").inner_text() == "Sign-in not recognised"
    assert "was used already" in await other.inner_text("main")
    assert await live_sessions(sso.app, "alice", "oidc") == before + 1


async def test_a_deactivated_or_unknown_staff_member_is_refused(sso: SsoConsole) -> None:
    root = await resolve_actor(sso.app.store, "root")
    await deactivate_staff(sso.app.store, root, "erin", "left the agency")
    page = await sso.new_page()
    await sso.start(page)
    refused: list[Response] = []
    page.on("response", lambda r: refused.append(r) if CALLBACK in r.url else None)
    await sso.log_in_at_provider(page, "erin")
    await page.wait_for_selector("h1:has-text('Account deactivated')")
    assert refused[-1].status == 403
    text = await page.inner_text("main")
    assert "your Casework account is deactivated" in text
    assert "'erin' is a deactivated staff member" in text
    assert await live_sessions(sso.app, "erin", "oidc") == 0
    cookies = {c["name"] for c in await page.context.cookies(sso.url + CALLBACK)}
    assert "casework_session" not in cookies and "casework_sso" not in cookies
    # The page offers the ways on; the caseload still needs a sign-in.
    assert await page.locator(f"a:has-text('Sign in with {PROVIDER_NAME} again')").count() == 1
    await page.goto("/console/caseload")
    assert "/console/sign-in" in page.url

    # Someone the provider knows but Casework does not.
    stranger = await sso.new_page()
    await sso.start(stranger)
    await sso.log_in_at_provider(stranger, "mallory")
    await stranger.wait_for_selector("h1:has-text('No Casework account')")
    assert "'mallory' names no staff member" in await stranger.inner_text("main")
    assert await live_sessions(sso.app, "mallory", "oidc") == 0


async def test_a_locked_account_is_refused_on_the_password_form(sso: SsoConsole) -> None:
    page = await sso.new_page()
    await page.goto("/console/sign-in")
    # The password form and single sign-on side by side.
    assert await page.locator("#sso").count() == 1
    for _ in range(4):
        await page.fill("#staff_id", "sam")
        await page.fill("#password", "not the password")
        await page.click("button[type=submit]")
        await page.wait_for_selector(".error-summary")
        assert "wrong staff id, password or code" in await page.inner_text(".error-summary")
    await page.fill("#password", "not the password")
    await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Account locked')")
    # The right password is refused while the lock lasts, and no session is made.
    await page.goto("/console/sign-in")
    await page.fill("#staff_id", "sam")
    await page.fill("#password", PASSWORD)
    async with page.expect_response(lambda r: r.url.endswith("/console/sign-in")) as sent:
        await page.click("button[type=submit]")
    assert (await sent.value).status == 423
    await page.wait_for_selector("h1:has-text('Account locked')")
    assert "locked until" in await page.inner_text("main")
    assert await live_sessions(sso.app, "sam", "password") == 0


async def test_an_answer_for_another_sign_in_is_refused(sso: SsoConsole) -> None:
    # Two tabs of one browser start a sign-in each; the first one's answer comes back
    # to a browser whose cookie now names the second: its state does not match.
    first = await sso.new_page()
    await sso.start(first)
    second = await first.context.new_page()
    await sso.start(second)
    await sso.log_in_at_provider(first, "alice")
    await first.wait_for_selector("h1:has-text('Sign-in not recognised')")
    assert "does not match the sign-in this browser started last" in await first.inner_text("main")
    assert "State: not the one of this sign-in" in await first.inner_text("main")
    names = {c["name"] for c in await first.context.cookies(sso.url + CALLBACK)}
    assert "casework_session" not in names
    # The second sign-in was used up by that answer (one answer per started sign-in).
    await sso.log_in_at_provider(second, "alice")
    await second.wait_for_selector("h1:has-text('Sign-in not recognised')")
    # Started again, it works.
    await second.click(f"a:has-text('Sign in with {PROVIDER_NAME} again')")
    await second.wait_for_url("**/console/caseload")  # the provider remembers alice


async def test_a_sign_in_older_than_ten_minutes_is_refused(sso: SsoConsole) -> None:
    page = await sso.new_page()
    await sso.start(page)
    sso.clock.offset += timedelta(minutes=10, seconds=1)
    try:
        await sso.log_in_at_provider(page, "alice")
        await page.wait_for_selector("h1:has-text('Sign-in not recognised')")
        assert "in the last 10 minutes" in await page.inner_text("main")
    finally:
        sso.clock.offset -= timedelta(minutes=10, seconds=1)
    names = {c["name"] for c in await page.context.cookies(sso.url + CALLBACK)}
    assert "casework_session" not in names and "casework_sso" not in names


async def test_a_provider_that_cannot_be_reached_is_a_clear_page(
    sso: SsoConsole, stack: Stack
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    port = free_port()
    api, app = console_api(stack, sso_settings(stack, nobody), Clock())
    kept = await pending_rows(app)
    async with serving(api, port) as url:
        page = await sso.new_page(url)
        await page.goto("/console/sign-in")
        answer: Response | None
        async with page.expect_navigation() as navigation:
            await page.click("#sso")
        answer = await navigation.value
        assert answer is not None and answer.status == 503
        assert await page.locator("h1").inner_text() == "Sign-in provider unavailable"
        assert "cannot reach Northside Sign-in" in await page.inner_text("main")
        assert await page.locator("a:has-text('staff id and password')").count() == 1
        await page.context.close()
    assert await pending_rows(app) == kept  # nothing is kept for a sign-in never started


async def test_without_single_sign_on_the_sign_in_page_has_no_button(stack: Stack) -> None:
    page = await stack.new_page()
    await page.goto("/console/sign-in")
    assert await page.locator("#sso").count() == 0
    answer = await page.goto("/console/sign-in/oidc")
    assert answer is not None and answer.status == 404
    assert await page.locator("h1").inner_text() == "Single sign-on is off"


async def test_the_single_sign_on_pages_pass_axe(sso: SsoConsole) -> None:
    context = await sso.stack.browser.new_context(
        base_url=sso.url, bypass_csp=True, viewport={"width": 1280, "height": 900}
    )  # CSP bypassed so that the test's own axe script may run
    sso.contexts.append(context)
    page = await context.new_page()
    await page.goto("/console/sign-in")
    await check(page, "sign-in-sso")
    answer = await page.goto(CALLBACK + "?code=stray&state=stray")
    assert answer is not None and answer.status == 400
    await check(page, "sso-refused")
