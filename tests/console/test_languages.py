"""The language the console speaks to a caseworker: the browser's (`Accept-Language`)
until they choose one in the header's picker, which then wins on every device they
sign in from, until they choose "As my browser asks" again.

The person's path runs in Chromium with a Spanish locale (the browser sends
`Accept-Language: es-ES`); the headers (`Content-Language`, the picker's 422) are
checked with httpx over the same server.
"""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page

from tests.console.conftest import PASSWORD, WAIT_MS, Stack

SPANISH_BROWSER = "es-ES"


async def _signed_in_speaking(stack: Stack, locale: str, staff_id: str = "alice") -> Page:
    """A browser of its own with `locale` (its Accept-Language), signed in through the
    sign-in page."""
    context = await stack.browser.new_context(base_url=stack.url, locale=locale)
    context.set_default_timeout(WAIT_MS)
    stack.contexts.append(context)
    page = await context.new_page()
    await page.goto("/console/sign-in")
    await page.fill("#staff_id", staff_id)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/caseload")
    await page.wait_for_selector("header.top .who")
    return page


async def _choose(page: Page, value: str) -> None:
    """Choose `value` in the header's language picker and send it (by keyboard)."""
    await page.select_option("#language-choice", value)
    await page.focus("form.language button[type=submit]")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/caseload")


async def _speaks(page: Page, lang: str, heading: str, nav: str) -> None:
    """The page is in `lang`: its `<html lang>`, its heading and its navigation."""
    await page.wait_for_function(
        "lang => document.documentElement.lang === lang", arg=lang, timeout=WAIT_MS
    )
    assert (await page.locator("main h1").inner_text()).strip() == heading
    current = page.locator("header.top nav a[aria-current=page]")
    assert (await current.inner_text()).strip() == nav


async def test_the_browser_then_the_setting_choose_the_language(stack: Stack) -> None:
    # A Spanish browser: the caseload in Spanish, the picker following the browser.
    page = await _signed_in_speaking(stack, SPANISH_BROWSER)
    await _speaks(page, "es", "Mis casos", "Mis casos")
    assert await page.locator("label[for=language-choice]").inner_text() == "Idioma"
    assert await page.locator("form.signout button").inner_text() == "Cerrar sesión"
    assert await page.eval_on_selector("#language-choice", "s => s.value") == ""
    assert await page.title() == "Mis casos · Casework"

    # English chosen in the picker: English, although the browser asks for Spanish.
    await _choose(page, "en")
    await _speaks(page, "en", "My caseload", "My caseload")
    assert await page.eval_on_selector("#language-choice", "s => s.value") == "en"

    # The setting is the person's: a new sign-in, from another Spanish browser, is English.
    again = await _signed_in_speaking(stack, SPANISH_BROWSER)
    await _speaks(again, "en", "My caseload", "My caseload")
    assert await again.eval_on_selector("#language-choice", "s => s.value") == "en"

    # "As my browser asks": Spanish again.
    await _choose(again, "")
    await _speaks(again, "es", "Mis casos", "Mis casos")
    assert await again.eval_on_selector("#language-choice", "s => s.value") == ""


async def _http_sign_in(http: httpx.AsyncClient, staff_id: str) -> str:
    """Sign in through the console's form; the session's CSRF token of the next page."""
    form = await http.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    sent = await http.post(
        "/console/sign-in",
        data={"csrf": token.group(1), "staff_id": staff_id, "password": PASSWORD, "next": ""},
    )
    assert sent.status_code == 303, sent.text
    caseload = await http.get("/console/caseload")
    csrf = re.search(r'name="csrf" value="([^"]+)"', caseload.text)
    assert csrf is not None
    return csrf.group(1)


async def test_headers_say_the_language_and_a_bogus_one_is_refused(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=WAIT_MS / 1000) as http:
        csrf = await _http_sign_in(http, "erin")
        spanish = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}

        shown = await http.get("/console/caseload", headers=spanish)
        assert shown.status_code == 200
        assert shown.headers["content-language"] == "es"
        assert '<html lang="es" dir="ltr">' in shown.text
        assert "<h1>Mis casos</h1>" in shown.text

        english = await http.get("/console/caseload", headers={"Accept-Language": "en-GB"})
        assert english.headers["content-language"] == "en"
        assert '<html lang="en" dir="ltr">' in english.text
        assert "<h1>My caseload</h1>" in english.text

        # A language the console does not speak: refused, naming the field, nothing kept.
        bogus = await http.post(
            "/console/language",
            data={"csrf": csrf, "language": "klingon", "back": "/console/caseload"},
            headers=spanish,
        )
        assert bogus.status_code == 422
        assert bogus.text.startswith("language: ")
        assert "klingon" in bogus.text
        still = await http.get("/console/caseload", headers=spanish)
        assert still.headers["content-language"] == "es"

        # English chosen: it wins over the Spanish browser; the empty choice undoes it.
        chosen = await http.post(
            "/console/language",
            data={"csrf": csrf, "language": "en", "back": "/console/caseload"},
            headers=spanish,
        )
        assert chosen.status_code == 303
        assert chosen.headers["location"] == "/console/caseload"
        setting = await http.get("/console/caseload", headers=spanish)
        assert setting.headers["content-language"] == "en"
        assert "<h1>My caseload</h1>" in setting.text
        undone = await http.post(
            "/console/language",
            data={"csrf": csrf, "language": "", "back": "/console/caseload"},
            headers=spanish,
        )
        assert undone.status_code == 303
        back = await http.get("/console/caseload", headers=spanish)
        assert back.headers["content-language"] == "es"
