"""Every main console page by keyboard alone and at 320 CSS px / 200% zoom, in a real
browser over the real stack (tests/console/conftest.py). docs/accessibility.md says
what these tests cover and what they do not.

Keyboard (WCAG 2.1.1, 2.1.2, 2.4.1, 2.4.3, 2.4.7), for each page:

* from the top of the page, the first Tab reaches the skip link, which is visible when
  focused and, followed, moves the focus to the main content (the next Tab lands on
  the first stop inside `main`);
* Tab walks forward through every interactive element the page renders (links, buttons,
  fields, `summary`, anything with a tabindex; a group of radio buttons is one stop),
  each showing a focus indicator (its computed outline or box-shadow differs from its
  unfocused one) and in view; the walk leaves the page for the browser's chrome (no
  keyboard trap), the next Tab comes back to the skip link, and Shift+Tab walks the same
  stops in reverse;
* on a page with `<details>`, the walk is done again with every one of them open, so
  the controls inside are reachable too (the case page is checked generically: its
  layout is whatever the template makes of it);
* the main tasks by keyboard alone: signing in, opening a case from the caseload,
  sending a form of the case page (its `<details>` opened with Enter if it has one) and
  finding a client from the header's search box.

Reflow (WCAG 1.4.10, 1.4.4, 1.4.12), for each page: at 320 × 256 CSS px (1280 × 1024 at
400%) and at 640 × 450 CSS px with a device scale factor of 2 (what a 1280 × 900 window
shows at 200% browser zoom: the layout viewport is 640 CSS px wide, drawn with two
device pixels per CSS pixel), the page never scrolls sideways (`scrollWidth <=
innerWidth`; a wide table squeezes its columns, breaking long words, and the dashboard's
tables scroll inside their own focusable region) and every heading and every form
control, scrolled to, is inside the window and not covered or clipped (the element at
its centre is itself or inside it). With WCAG 1.4.12's text spacing applied (line height
1.5, letter spacing 0.12em, word spacing 0.16em, paragraph spacing 2em) at 1280 px the
page does not scroll sideways either. Each page is checked in English and in Spanish (a
browser asking for `es-ES`: longer words), and axe-core finds no serious or critical
violation on it at 1280 px (in English) and at 320 px and 200% (in both).

The board's rows refresh themselves every few seconds (board.js swaps them in): the
refresh is held (its fetch refused) while the walk runs, so the elements walked stay the
elements counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Page, expect

from directory import resolve_actor
from tests.console.conftest import PASSWORD, WAIT_MS, Stack
from tests.console.test_dashboard import PERIOD, published  # noqa: F401  (a fixture)
from tests.console.test_pages import AXE, worked_case

REF = "KB-CASE-1"
CLIENT_NAME = "Marguerite Okonkwo-Hale"  # stack.open_case's client


@dataclass(frozen=True)
class Where:
    staff: str | None
    path: str


PAGES = (
    "sign-in", "caseload", "case", "approvals", "actions", "board", "transfers",
    "outcomes", "dashboard", "audit", "directory", "clients", "client",
)  # fmt: skip


@pytest.fixture(scope="module")
async def site(stack: Stack, published: Any) -> dict[str, Where]:  # noqa: F811
    """The pages, each with someone who may see it and something on it."""
    alice = await resolve_actor(stack.app.store, "alice")
    submitted = await worked_case(stack, alice)  # a plan for carol to approve
    case_id = await stack.open_case_with_plan(REF)  # an active plan: more forms
    await stack.until_projected(case_id)
    return {
        "sign-in": Where(None, "/console/sign-in"),
        "caseload": Where("alice", "/console/caseload"),
        "case": Where("alice", f"/console/cases/{case_id}"),
        "approvals": Where("carol", "/console/approvals"),
        "actions": Where("alice", "/console/actions"),
        "board": Where("carol", "/console/board"),
        "transfers": Where("alice", "/console/transfers"),
        "outcomes": Where("carol", "/console/outcomes"),
        "dashboard": Where("max", f"/console/dashboard?{PERIOD}"),
        "audit": Where("audrey", f"/console/audit/{submitted}"),
        "directory": Where("max", "/console/directory"),
        "clients": Where("alice", f"/console/clients?q={CLIENT_NAME.split()[0]}"),
        "client": Where("alice", f"/console/clients/{REF}"),
    }


async def browser(
    stack: Stack,
    staff_id: str | None,
    width: int = 1280,
    height: int = 900,
    scale: float = 1,
    locale: str = "en-GB",
) -> Page:
    """A browser of its own at this window size and language (its Accept-Language),
    signed in as `staff_id` (or not)."""
    context = await stack.browser.new_context(
        base_url=stack.url,
        locale=locale,
        viewport={"width": width, "height": height},
        device_scale_factor=scale,
        bypass_csp=True,  # lets the test's own axe script in
    )
    context.set_default_timeout(WAIT_MS)
    stack.contexts.append(context)
    page = await context.new_page()
    # The board's self-refresh is held: the walk counts the elements it loaded with.
    await page.route(re.compile(r"/console/board/rows"), lambda route: route.abort())
    if staff_id is not None:
        await page.goto("/console/sign-in")
        await page.fill("#staff_id", staff_id)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("header.top .who")
    return page


async def opened(page: Page, path: str) -> None:
    answer = await page.goto(path)
    assert answer is not None and answer.status < 500, (path, answer and answer.status)
    await page.wait_for_selector("main#main")


# --- the keyboard ------------------------------------------------------------------------------

TAG = """() => {
const shown = el => {
  // Rendered, and not inside a closed <details> (other than as its summary): Chromium
  // keeps boxes for a closed details' content, hidden by content-visibility.
  if (!el.getClientRects().length) return false;
  if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) return false;
  const closed = 'details:not([open])';
  for (let d = el.closest(closed); d; d = d.parentElement.closest(closed)) {
    const summary = d.querySelector(':scope > summary');
    if (!(summary && summary.contains(el))) return false;
  }
  return true;
};

  const sel = 'a[href], button, input, select, textarea, summary, [tabindex], [contenteditable]';
  const stops = [];
  let n = 0;
  for (const el of document.querySelectorAll(sel)) {
    delete el.dataset.kb;
    if (el.matches('input[type=hidden]') || el.disabled) continue;
    if (el.getAttribute('tabindex') !== null && el.tabIndex < 0) continue;
    if (el.tagName === 'SUMMARY' && !(el.parentElement && el.parentElement.tagName === 'DETAILS'
        && el.parentElement.querySelector(':scope > summary') === el)) continue;
    if (!shown(el)) continue;
    const cs = getComputedStyle(el);
    const key = (el.type === 'radio')
      ? 'radio:' + (el.form ? Array.from(document.forms).indexOf(el.form) : -1) + ':' + el.name
      : 'el:' + n;
    el.dataset.kb = key;
    el.dataset.kbBase = [cs.outlineStyle, cs.outlineWidth, cs.outlineColor, cs.boxShadow].join('|');
    if (!stops.includes(key)) stops.push(key);
    n++;
  }
  return stops;
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const cs = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const now = [cs.outlineStyle, cs.outlineWidth, cs.outlineColor, cs.boxShadow].join('|');
  const label = (el.tagName + (el.id ? '#' + el.id : '') + ' '
    + (el.getAttribute('aria-label') || el.textContent || el.name || '').trim().slice(0, 40));
  return {
    key: el.dataset.kb || null,
    label: label,
    indicated: el.dataset.kbBase === undefined || now !== el.dataset.kbBase,
    shown: now !== 'none|0px|' + cs.outlineColor + '|none',
    in_view: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
      && r.top < window.innerHeight && r.left < window.innerWidth,
    in_main: !!document.querySelector('main') && document.querySelector('main').contains(el),
    skip: el.classList.contains('skip'),
  };
}"""


async def focused(page: Page) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await page.evaluate(FOCUSED)
    return found


async def walk(page: Page, key: str, limit: int) -> list[dict[str, Any]]:
    """Press `key` until the focus leaves the page; every stop on the way."""
    stops: list[dict[str, Any]] = []
    for _ in range(limit):
        await page.keyboard.press(key)
        now = await focused(page)
        if now is None:
            return stops
        stops.append(now)
    raise AssertionError(
        f"{key} never left the page in {limit} presses (a keyboard trap?): "
        f"{[s['label'] for s in stops[-10:]]}"
    )


def squeezed(stops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stops, one for each element (the parts of a date field are one element's)."""
    out: list[dict[str, Any]] = []
    for stop in stops:
        if not out or stop["key"] is None or stop["key"] != out[-1]["key"]:
            out.append(stop)
        elif not (stop["indicated"] and stop["shown"] and stop["in_view"]):
            out[-1] = stop  # a part without an indicator counts against the element
    return out


async def check_walk(page: Page, name: str) -> int:
    """The skip link first, every stop reached with a focus indicator, out and round again,
    the same stops backwards. The number of stops."""
    expected: list[str] = await page.evaluate(TAG)
    limit = 5 * len(expected) + 20  # a date field is four stops: day, month, year, calendar
    forward = squeezed(await walk(page, "Tab", limit))
    assert forward, f"{name}: Tab reaches nothing"
    assert forward[0]["skip"], (
        f"{name}: the first Tab reaches {forward[0]['label']}, not the skip link"
    )
    missing_indicator = [s["label"] for s in forward if not (s["indicated"] and s["shown"])]
    assert not missing_indicator, f"{name}: no visible focus indicator on {missing_indicator[:5]}"
    out_of_view = [s["label"] for s in forward if not s["in_view"]]
    assert not out_of_view, f"{name}: focused but not in view: {out_of_view[:5]}"
    reached = [s["key"] for s in forward if s["key"] is not None]
    unreached = [k for k in expected if k not in reached]
    assert not unreached, f"{name}: {len(unreached)} elements never reached by Tab: " + str(
        await page.evaluate(
            "keys => keys.map(k => { const el = document.querySelector(`[data-kb='${k}']`);"
            " return el ? el.outerHTML.slice(0, 120) : k; })",
            unreached[:5],
        )
    )
    # Round again: the next Tab comes back to the skip link.
    await page.keyboard.press("Tab")
    again = await focused(page)
    assert again is not None and again["skip"], f"{name}: Tab after the last stop: {again}"
    # And backwards: every stop in reverse, back to the skip link (headless Chromium has
    # no chrome to stop at before the page's last stop: the focus may wrap at once).
    backward: list[dict[str, Any]] = []
    for _ in range(limit):
        await page.keyboard.press("Shift+Tab")
        now = await focused(page)
        if now is None:
            if backward:
                break
            continue
        backward.append(now)
        if now["skip"]:
            break
    backward = squeezed(backward)
    assert [s["key"] for s in backward] == [s["key"] for s in reversed(forward)], (
        f"{name}: Shift+Tab does not retrace Tab's stops"
    )
    return len(forward)


async def check_skip_link(page: Page, name: str) -> None:
    """The first Tab reaches the skip link, shown; followed, the next Tab is the first stop
    of `main` (or, with none there, leaves the page)."""
    await page.evaluate(TAG)
    first_in_main = await page.evaluate(
        "() => { const el = document.querySelector('main [data-kb]');"
        " return el ? el.dataset.kb : null; }"
    )
    await page.keyboard.press("Tab")
    skip = await focused(page)
    assert skip is not None and skip["skip"] and skip["in_view"], f"{name}: {skip}"
    assert skip["indicated"] and skip["shown"], f"{name}: the skip link shows no focus"
    await page.keyboard.press("Enter")
    await page.wait_for_function("() => location.hash === '#main'")
    await page.keyboard.press("Tab")
    after = await focused(page)
    if first_in_main is not None:
        assert after is not None and after["key"] == first_in_main, (
            f"{name}: after the skip link, the focus is on {after}"
        )
    else:  # nothing to focus in main: the focus goes past it, out of the page
        assert after is None or after["skip"] or not after["in_main"], f"{name}: {after}"


@pytest.mark.parametrize("name", PAGES)
async def test_every_page_by_keyboard_alone(
    stack: Stack, site: dict[str, Where], name: str
) -> None:
    where = site[name]
    page = await browser(stack, where.staff)
    await opened(page, where.path)
    await check_skip_link(page, name)

    await opened(page, where.path)
    await check_axe(page, name)
    await opened(page, where.path)
    stops = await check_walk(page, name)
    if await page.locator("details").count():
        await opened(page, where.path)
        await page.evaluate(
            "() => document.querySelectorAll('details').forEach(d => d.open = true)"
        )
        stops = max(stops, await check_walk(page, f"{name} (every details open)"))
    assert stops >= 2, f"{name}: only {stops} stops"


# --- the tasks by keyboard alone ---------------------------------------------------------------


async def tab_to(page: Page, js_test: str, what: str, limit: int = 400) -> None:
    """Press Tab until the focused element passes `js_test` (an `el => bool`)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(
            f"() => {{ const el = document.activeElement; return !!el && ({js_test})(el); }}"
        ):
            return
    raise AssertionError(f"Tab never reached {what}")


async def test_signing_in_by_keyboard(stack: Stack) -> None:
    page = await browser(stack, None)
    await opened(page, "/console/sign-in")
    await tab_to(page, "el => el.id === 'staff_id'", "the staff id")
    await page.keyboard.type("alice")
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.id") == "password"
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("header.top .who")).to_contain_text("alice")


async def test_opening_a_case_and_sending_a_form_by_keyboard(stack: Stack) -> None:
    ref = "KB-TASK-1"
    case_id = await stack.open_case_with_plan(ref)
    await stack.until_projected(case_id)
    page = await browser(stack, "alice")
    await opened(page, "/console/caseload")
    await tab_to(page, f"el => el.tagName === 'A' && el.textContent.trim() === '{ref}'", ref)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/console/cases/{case_id}")

    # Record progress on the plan's goal: the form found by what it sends, wherever the
    # page puts it; its <details> (if it is in one) opened from the keyboard.
    form = "form[action$='/do/record_progress']"
    assert await page.locator(form).count() == 1
    closed = await page.evaluate(
        f"() => {{ const d = document.querySelector(\"{form}\").closest('details');"
        " return d !== null && !d.open; }"
    )
    if closed:
        await tab_to(
            page,
            "el => el.tagName === 'SUMMARY'"
            f' && el.parentElement.contains(document.querySelector("{form}"))',
            "the summary of the progress form",
        )
        await page.keyboard.press("Enter")
        await expect(page.locator(form)).to_be_visible()
    # Through the form's fields to its button: a choice where none is made, a note.
    note = "Viewed two flats by keyboard"
    in_form = f'el => !!el.form && el.form.matches("{form}")'
    await tab_to(page, in_form, "the progress form")
    for _ in range(40):
        field = await page.evaluate(
            "() => { const el = document.activeElement;"
            " return {tag: el.tagName, type: el.type, value: el.value}; }"
        )
        if field["type"] == "submit":
            break
        if field["tag"] == "SELECT" and not field["value"]:
            await page.keyboard.press("ArrowDown")  # the first choice after "— choose —"
        elif field["tag"] == "TEXTAREA":
            await page.keyboard.type(note)
        await page.keyboard.press("Tab")
    else:
        raise AssertionError("Tab never reached the progress form's button")
    before = await stack.app.store.stream_version(f"case-{case_id}")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await page.locator(".error-summary").count() == 0, await page.locator(
        ".error-summary"
    ).all_inner_texts()
    after = await stack.app.store.stream_version(f"case-{case_id}")
    assert after > before, (page.url, (await page.locator("main").inner_text())[:1500])
    recorded = await stack.app.store.read_stream(f"case-{case_id}")
    assert recorded[-1].event_type == "GoalProgressRecorded", recorded[-1].event_type


async def test_finding_a_client_from_the_header_by_keyboard(
    stack: Stack, site: dict[str, Where]
) -> None:
    page = await browser(stack, "alice")
    await opened(page, "/console/caseload")
    await tab_to(page, "el => el.id === 'find-client'", "the header's search box")
    await page.keyboard.type("margerite okonkwo")  # misspelt
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/console/clients\?q="))
    await tab_to(
        page,
        f"el => el.tagName === 'A' && el.textContent.includes('{CLIENT_NAME}')"
        f" || el.tagName === 'A' && el.textContent.includes('{REF}')",
        "the client",
    )
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/console/clients/"))
    await expect(page.locator("main")).to_contain_text(CLIENT_NAME)


# --- reflow ------------------------------------------------------------------------------------

REFLOW = """() => {
const shown = el => {
  // Rendered, and not inside a closed <details> (other than as its summary): Chromium
  // keeps boxes for a closed details' content, hidden by content-visibility.
  if (!el.getClientRects().length) return false;
  if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) return false;
  const closed = 'details:not([open])';
  for (let d = el.closest(closed); d; d = d.parentElement.closest(closed)) {
    const summary = d.querySelector(':scope > summary');
    if (!(summary && summary.contains(el))) return false;
  }
  return true;
};

  const out = {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
               wide: [], clipped: [], any: []};
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className
       ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
    + ' ' + (el.textContent || el.value || '').trim().slice(0, 30);
  const scrolls = el => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return a;
    }
    return null;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > window.innerWidth) out.any.push(name(el) + ' ..' + r.right);
    if (r.width && (r.right > window.innerWidth + 1 || r.left < -1) && !scrolls(el)
        && !el.classList.contains('skip') && getComputedStyle(el).position !== 'fixed')
      out.wide.push(name(el) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = texts.nextNode(); t; t = texts.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(t);
    const r = range.getBoundingClientRect();
    if (r.width && r.right > window.innerWidth + 1 && !scrolls(t.parentElement))
      out.wide.push('text in ' + name(t.parentElement) + ' ..' + Math.round(r.right));
  }
  const wanted = 'h1, h2, h3, h4, h5, h6, input:not([type=hidden]), select, textarea, button,'
    + ' summary';
  for (const el of document.querySelectorAll(wanted)) {
    if (!shown(el)) continue;
    el.scrollIntoView({block: 'center', inline: 'center'});
    const r = el.getBoundingClientRect();
    const x = Math.min(Math.max(r.left + Math.min(r.width / 2, 8), 0), window.innerWidth - 1);
    const y = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
    const hit = document.elementFromPoint(x, y);
    const inside = r.left >= -1 && r.right <= window.innerWidth + 1 && r.width > 0 && r.height > 0;
    const label = hit && hit.closest('label');
    const ok = hit && (el.contains(hit) || hit.contains(el) && hit.tagName === 'LABEL'
                       || (label && label.control === el));
    if (!inside || !ok) out.clipped.push(name(el) + ' at ' + Math.round(r.left) + ','
      + Math.round(r.top) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height)
      + (hit ? ' under ' + name(hit) : ''));
  }
  window.scrollTo(0, 0);
  return out;
}"""

SPACING = """() => {
  const s = document.createElement('style');
  s.textContent = '* { line-height: 1.5 !important; letter-spacing: .12em !important;'
    + ' word-spacing: .16em !important; } p { margin-bottom: 2em !important; }';
  document.head.appendChild(s);
}"""

SIZES = {
    "320px": (320, 256, 1.0),
    "200%": (640, 450, 2.0),
}


async def check_axe(page: Page, name: str) -> None:
    """No serious or critical axe-core violation on the page as it stands."""
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


async def check_reflow(page: Page, name: str) -> None:
    found: dict[str, Any] = await page.evaluate(REFLOW)
    assert found["scroll"] <= found["inner"], (
        f"{name}: the page scrolls sideways ({found['scroll']} > {found['inner']}): "
        f"{found['wide'][:8] or found['any'][:8]}"
    )
    if found["clipped"]:
        await page.screenshot(path=f"/tmp/h7-{name.replace(' ', '_')}.png", full_page=True)
    assert not found["clipped"], f"{name}: clipped or covered: {found['clipped'][:8]}"


@pytest.mark.parametrize("locale", ["en-GB", "es-ES"])
@pytest.mark.parametrize("name", PAGES)
async def test_every_page_reflows(
    stack: Stack, site: dict[str, Where], name: str, locale: str
) -> None:
    """In English and in Spanish (longer words, longer sentences)."""
    where = site[name]
    for size, (width, height, scale) in SIZES.items():
        page = await browser(stack, where.staff, width, height, scale, locale)
        await opened(page, where.path)
        assert await page.get_attribute("html", "lang") == locale[:2]
        await check_reflow(page, f"{name} at {size}")
        await check_axe(page, f"{name} at {size}")
        if await page.locator("details").count():
            await page.evaluate(
                "() => document.querySelectorAll('details').forEach(d => d.open = true)"
            )
            await check_reflow(page, f"{name} at {size}, every details open")
        await page.context.close()
    page = await browser(stack, where.staff, locale=locale)
    await opened(page, where.path)
    await page.evaluate(SPACING)
    found: dict[str, Any] = await page.evaluate(REFLOW)
    assert found["scroll"] <= found["inner"], f"{name} with text spacing: {found['wide'][:8]}"
