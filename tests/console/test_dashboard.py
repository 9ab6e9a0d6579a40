"""The KPI dashboard (issue 32) in a real browser, under the console's real CSP.

Simulated case lifecycles of teams north and south (the simulation's fixed start,
2026-01-05) are appended to the log, folded by the projections (`catch_up`) and
covered by a signed checkpoint (`notarise`). Then:

* before any checkpoint the page says so (503), with no traceback;
* a manager sees every team's figures: each chart's values and each table's rows equal
  what `GET /api/v1/reports/kpi` answers for the same months (its cells summed to the
  team, then the figure), the checkpoint they were computed from, the report as JSON
  with the same cells, and no CSP violation (no inline script or style: the charts'
  CSS is a stylesheet of the console's own origin, and it applies);
* a supervisor sees their team only and is refused another, naming `team` beside its
  field (403); a caseworker sees their own figures and is refused another worker's;
* a bad month is refused naming `since` (or `until` for a span that ends first), 422;
* axe-core finds nothing on the page, its refusals and the no-checkpoint page;
"""

from __future__ import annotations

import asyncio
import csv
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page

from application.reports.kpi import NoCheckpoint, report_checkpoint
from devtools.simulation import RandomChooser, simulate_case
from events.envelope import NewEvent
from tests.console.conftest import PASSWORD, WAIT_MS, Stack
from tests.console.test_pages import AXE
from tests.events.test_case_file import notarise
from tests.pg import with_database
from tests.projections.conftest import catch_up

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TEAMS: dict[str, tuple[str, ...]] = {"north": ("alice", "north-2"), "south": ("erin", "south-2")}
PERIOD = "since=2026-01&until=2026-12"
CASES = 24
STEPS = 80
RARE = frozenset({"ReferralAccepted", "ReferralDeclined", "ReferralCompleted", "ActionCompleted"})
"""Few lifecycles reach a referral's reply or a plan action done: some that do are added."""
WITH_RARE = 8


def simulated() -> list[tuple[uuid.UUID, list[NewEvent]]]:
    """The first CASES lifecycles, then the next WITH_RARE that reach a RARE event."""
    cases, rare, seed = [], 0, 0
    while rare < WITH_RARE:
        case_id, events = simulate_case(RandomChooser(seed), STEPS, start=START, teams=TEAMS)
        if seed < CASES:
            cases.append((case_id, events))
        elif RARE.intersection(e.event_type for e in events):
            cases.append((case_id, events))
            rare += 1
        seed += 1
    return cases


# --- the data -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def published(stack: Stack, pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated cases in the log and the read models, and a signed checkpoint of the
    whole log (this module's own checkpoint directory and notary key)."""
    data_dir = tmp_path_factory.mktemp("dashboard-data")
    stack.app.settings.data_dir = data_dir
    for case_id, events in simulated():
        await stack.app.store.append(f"case-{case_id}", 0, events)
    dsn = with_database(pg_server, await stack.app.pool.fetchval("SELECT current_database()"))
    await catch_up(dsn, stack.app.store)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stack.app.settings, "database_url", dsn)
        await notarise(stack.app)
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while True:  # the stack's projector may hold the kpi read model a moment
        try:
            await report_checkpoint(stack.app)
            break
        except NoCheckpoint:
            assert asyncio.get_running_loop().time() < deadline, "the kpi read model is behind"
            await catch_up(dsn, stack.app.store)
    return data_dir


async def api_report(stack: Stack, staff_id: str, query: str) -> dict[str, Any]:
    """The report `GET /api/v1/reports/kpi?<query>` answers `staff_id` (a session of the
    API's own, signed in with the password)."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=WAIT_MS / 1000) as http:
        made = await http.post(
            "/api/v1/sessions", json={"staff_id": staff_id, "password": PASSWORD}
        )
        assert made.status_code == 201, made.text
        answer = await http.get(
            f"/api/v1/reports/kpi?{query}",
            headers={"Authorization": f"Bearer {made.json()['token']}"},
        )
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()
        return report


# --- what the page should show, from the API's cells ---------------------------------------------

Sums = dict[tuple[str, ...], tuple[int, int]]


def sums(
    report: dict[str, Any], kpi: str, key: Callable[[dict[str, Any]], tuple[str, ...]]
) -> Sums:
    out: Sums = {}
    for cell in report["cells"]:
        if cell["kpi"] == kpi:
            count, total = out.get(key(cell), (0, 0))
            out[key(cell)] = (count + cell["count"], total + cell["total"])
    return out


def pct(count: int, total: int) -> str:
    return f"{100 * total / count:.1f}" if count else "—"


def by_month(report: dict[str, Any], kpi: str, row: Callable[[int, int], tuple[str, ...]]
             ) -> list[tuple[str, ...]]:  # fmt: skip
    found = sums(report, kpi, lambda c: (c["month"], c["team"]))
    return [(month, team, *row(*found[(month, team)])) for month, team in sorted(found)]


def days(count: int, total: int) -> tuple[str, ...]:
    return (f"{total / count / 86400:.1f}", str(count))


def on_time(count: int, total: int) -> tuple[str, ...]:
    return (str(total), str(count - total), pct(count, total))


def words(subject: str) -> str:
    return subject.replace("_", " ")


def expected_tables(report: dict[str, Any]) -> dict[str, list[tuple[str, ...]]]:
    """Each table's rows (by its panel's key) as the page must show them."""
    tables = {
        key: by_month(report, kpi, row)
        for key, kpi, row in (
            ("referral-to-first-contact", "referral_to_first_contact", days),
            ("referral-to-assessment", "referral_to_assessment", days),
            ("referral-to-plan-approval", "referral_to_plan_approval", days),
            ("case-duration", "case_duration", days),
            ("review-on-time", "review_on_time", on_time),
            ("escalation-raised", "escalation_raised", lambda n, t: (str(t),)),
            ("escalation-open-time", "escalation_open_time", days),
            ("action-on-time", "action_on_time", on_time),
            ("feedback-rating", "feedback_rating", lambda n, t: (f"{t / n:.2f}", str(n))),
        )
    }
    accepted = sums(report, "referral_accepted", lambda c: (c["subject"],))
    completed = sums(report, "referral_completed", lambda c: (c["subject"],))
    tables["referrals-by-service"] = [
        (s, str(a[0]), str(a[1]), pct(*a), str(d[0]), str(d[1]), pct(*d))
        for s in sorted({k for (k,) in accepted} | {k for (k,) in completed})
        for a, d in [(accepted.get((s,), (0, 0)), completed.get((s,), (0, 0)))]
    ]
    goals = sums(report, "goal_met", lambda c: (c["subject"], c["team"]))
    tables["goals-by-domain"] = [
        (words(d), t, str(met), str(n), pct(n, met)) for (d, t), (n, met) in sorted(goals.items())
    ]
    advocacy = sums(report, "advocacy_outcome", lambda c: tuple(c["subject"].split("/")))
    tables["advocacy-by-barrier"] = [
        (words(b), words(o), str(n)) for (b, o), (n, _) in sorted(advocacy.items())
    ]
    return tables


def shown_of(tables: dict[str, list[tuple[str, ...]]]) -> dict[str, list[tuple[str, ...]]]:
    """The tables a page shows: a figure with nothing measured says so instead."""
    return {key: rows for key, rows in tables.items() if rows}


PLOTTED = {  # which column of each table the chart draws (the others are counts)
    "referrals-by-service": (3, 6),
    "goals-by-domain": (4,),
    "advocacy-by-barrier": (2,),
    "review-on-time": (4,),
    "action-on-time": (4,),
}


# --- the browser ----------------------------------------------------------------------------------


VIOLATIONS_PROBE = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


class Watched:
    """A signed-in page whose CSP violations (events and console messages) are kept."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console.append(message.text)

    async def violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__violations || []")
        return found + [m for m in self.console if "Content Security Policy" in m]


async def watched(stack: Stack, staff_id: str) -> Watched:
    page = await stack.signed_in(staff_id)
    await page.context.add_init_script(VIOLATIONS_PROBE)
    return Watched(page)


async def tables_on(page: Page) -> dict[str, list[tuple[str, ...]]]:
    found: list[dict[str, Any]] = await page.eval_on_selector_all(
        "table[id^='table-']",
        """ts => ts.map(t => ({id: t.id.slice(6), rows: [...t.tBodies[0].rows].map(
               r => [...r.cells].map(c => c.textContent.trim()))}))""",
    )
    return {t["id"]: [tuple(r) for r in t["rows"]] for t in found}


async def charts_on(page: Page) -> dict[str, dict[str, Any]]:
    found: list[dict[str, Any]] = await page.eval_on_selector_all(
        "svg.kpi-chart",
        """ss => ss.map(s => ({id: s.id.slice(6), role: s.getAttribute('role'),
               title: document.getElementById(s.getAttribute('aria-labelledby')).textContent,
               values: [...s.querySelectorAll('desc.value')].map(d => d.textContent),
               scripts: s.querySelectorAll('script, style, [style]').length}))""",
    )
    return {c["id"]: c for c in found}


# --- the tests ------------------------------------------------------------------------------------


async def test_before_any_checkpoint_the_page_says_so(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.app.settings, "data_dir", tmp_path / "no-checkpoints")
    max_ = await watched(stack, "max")
    answer = await max_.page.goto("/console/dashboard")
    assert answer is not None and answer.status == 503
    assert await max_.page.locator("h2#unavailable-title").text_content() == (
        "No signed checkpoint yet"
    )
    assert "no signed checkpoint yet" in (await max_.page.locator("[role=status]").inner_text())
    assert await max_.page.locator("svg, table").count() == 0
    assert "Traceback" not in await max_.page.content()
    assert await max_.violations() == []


async def test_a_manager_sees_every_team_and_the_figures_the_api_answers(
    stack: Stack, published: Path
) -> None:
    max_ = await watched(stack, "max")
    page = max_.page
    answer = await page.goto(f"/console/dashboard?{PERIOD}")
    assert answer is not None and answer.status == 200, await page.content()
    report = await api_report(stack, "max", PERIOD)
    assert {c["team"] for c in report["cells"]} == {"north", "south"}

    expected = expected_tables(report)
    shown = await tables_on(page)
    assert shown == expected
    assert all(rows for rows in expected.values()), [k for k, v in expected.items() if not v]
    teams = {row[1] for key, rows in shown.items() if key.startswith("referral-to") for row in rows}
    assert teams == {"north", "south"}

    # Every table has its chart beside it, and the chart draws the table's figures.
    charts = await charts_on(page)
    assert set(charts) == set(expected)
    for key, rows in expected.items():
        chart = charts[key]
        assert chart["role"] == "img" and chart["title"].startswith(await page.locator(
            f"#panel-{key}-title").inner_text()), chart["title"]  # fmt: skip
        assert chart["scripts"] == 0
        columns = PLOTTED.get(key, (2,))
        drawn = [row[i] for row in rows for i in columns if row[i] != "—"]
        values = chart["values"]
        if key == "advocacy-by-barrier":  # stacked: an outcome a barrier did not have draws 0
            values = [v for v in values if v != "0"]
        assert Counter(values) == Counter(drawn), key

    # Each table: a caption, its columns' and rows' header cells.
    for key in expected:
        table = page.locator(f"#table-{key}")
        assert await table.locator("caption").count() == 1
        assert await table.locator("thead th[scope=col]").count() >= 3
        assert await table.locator("tbody th[scope=row]").count() >= len(expected[key])

    # The checkpoint the figures were computed from, and how to recompute them.
    checkpoint = report["checkpoint"]
    facts = await page.locator("section.kpi-checkpoint").inner_text()
    for value in (f"#{checkpoint['sequence']}", str(checkpoint["tree_size"]),
                  checkpoint["root_hash"], checkpoint["timestamp"]):  # fmt: skip
        assert value in facts, value
    assert "casework report rebuild report.json" in facts
    kept = await page.request.get(f"/console/dashboard/report.json?{PERIOD}")
    assert kept.status == 200
    assert "attachment" in kept.headers["content-disposition"]
    as_kept = await kept.json()
    assert as_kept["cells"] == report["cells"]
    assert as_kept["checkpoint"] == checkpoint
    # The same figures as a spreadsheet, from the page's own link, naming the checkpoint.
    async with page.expect_download() as downloading:
        await page.click("section.kpi-checkpoint >> text=Download CSV")
    download = await downloading.value
    text = await asyncio.to_thread((await download.path()).read_text, encoding="utf-8-sig")
    downloaded = list(csv.DictReader(text.splitlines()))
    assert [(r["kpi"], r["month"], r["team"], r["count"]) for r in downloaded] == [
        (c["kpi"], c["month"], c["team"], str(c["count"])) for c in report["cells"]
    ]
    excel = await page.request.get(
        await page.locator("section.kpi-checkpoint >> text=Download Excel").get_attribute("href")
        or ""
    )
    assert excel.headers["casework-checkpoint-sequence"] == str(checkpoint["sequence"])
    assert excel.headers["casework-checkpoint-root"] == checkpoint["root_hash"]

    # The charts' CSS came from the console's own stylesheet (and applies): no inline
    # style or script anywhere, nothing the CSP refused.
    stroke = await page.eval_on_selector(
        "#chart-referral-to-first-contact .series.color-0 path.line",
        "p => getComputedStyle(p).stroke",
    )
    assert stroke == "rgb(31, 95, 153)", stroke
    assert await page.locator("script, style, [style]").count() == 0
    csp = answer.headers["content-security-policy"]
    assert "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert await max_.violations() == []

    # The navigation leads there.
    await page.goto("/console/board")
    await page.click("header.top nav >> text=KPI dashboard")
    await page.wait_for_url("**/console/dashboard")
    assert await page.locator("section.kpi-panel").count() == len(expected)
    assert await max_.violations() == []


async def test_a_supervisor_sees_their_team_and_is_refused_another(
    stack: Stack, published: Path
) -> None:
    carol = await watched(stack, "carol")  # north's supervisor
    page = carol.page
    answer = await page.goto(f"/console/dashboard?{PERIOD}")
    assert answer is not None and answer.status == 200
    shown = await tables_on(page)
    assert shown == shown_of(expected_tables(await api_report(stack, "carol", PERIOD)))
    assert {row[1] for key, rows in shown.items() if key.startswith("referral-to")
            for row in rows} == {"north"}  # fmt: skip
    assert "team north" in await page.locator(".kpi-summary").inner_text()

    # Another team, through the form: refused beside the field, the form as typed.
    await page.fill("#team", "south")
    async with page.expect_navigation() as navigation:
        await page.click("form.kpi-filters button[type=submit]")
    refused = await navigation.value
    assert refused is not None and refused.status == 403
    error = await page.locator("#team-error").inner_text()
    assert error.startswith("team:") and "north" in error, error
    assert await page.get_attribute("#team", "aria-invalid") == "true"
    assert "team-error" in (await page.get_attribute("#team", "aria-describedby") or "")
    assert await page.input_value("#team") == "south"
    assert await page.locator("#problems a[href='#team']").count() == 1
    assert await page.locator("svg.kpi-chart").count() == 0
    assert "Traceback" not in await page.content()
    assert await carol.violations() == []

    # A caseworker sees her own figures, and is refused another worker's.
    alice = await watched(stack, "alice")
    answer = await alice.page.goto(f"/console/dashboard?{PERIOD}")
    assert answer is not None and answer.status == 200
    assert "worker alice" in await alice.page.locator(".kpi-summary").inner_text()
    assert await tables_on(alice.page) == shown_of(
        expected_tables(await api_report(stack, "alice", PERIOD))
    )
    answer = await alice.page.goto(f"/console/dashboard?{PERIOD}&worker=erin")
    assert answer is not None and answer.status == 403
    assert (await alice.page.locator("#worker-error").inner_text()).startswith("worker:")


async def test_a_bad_month_is_refused_naming_the_field(stack: Stack, published: Path) -> None:
    audrey = await watched(stack, "audrey")
    page = audrey.page
    await page.goto(f"/console/dashboard?{PERIOD}")
    await page.fill("#since", "2026-13")
    async with page.expect_navigation() as navigation:
        await page.click("form.kpi-filters button[type=submit]")
    refused = await navigation.value
    assert refused is not None and refused.status == 422
    error = await page.locator("#since-error").inner_text()
    assert error.startswith("since:") and "YYYY-MM" in error, error
    assert await page.get_attribute("#since", "aria-invalid") == "true"
    assert await page.input_value("#since") == "2026-13"
    assert await page.locator("#until-error").count() == 0

    answer = await page.goto("/console/dashboard?since=2026-05&until=2026-04")
    assert answer is not None and answer.status == 422
    assert (await page.locator("#until-error").inner_text()).startswith("until:")
    answer = await page.goto(f"/console/dashboard?since={'9' * 500}")
    assert answer is not None and answer.status == 422
    assert (await page.locator("#since-error").inner_text()).startswith("since:")
    answer = await page.goto("/console/dashboard?team=%3Cscript%3E")
    assert answer is not None and answer.status == 422
    assert (await page.locator("#team-error").inner_text()).startswith("team:")
    assert await page.locator("body script").count() == 0
    assert await audrey.violations() == []

    # A role that reads no outcomes is refused the page (and is not offered it).
    root = await stack.signed_in("root")
    answer = await root.goto("/console/dashboard")
    assert answer is not None and answer.status == 403
    assert await root.locator("header.top nav >> text=KPI dashboard").count() == 0


async def axe_violations(page: Page) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make` (npm ci in tools/node)")
    await page.evaluate(AXE.read_text())
    found: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in found["violations"]
    ]


async def test_the_dashboard_passes_axe(
    stack: Stack, published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = await stack.browser.new_context(
        base_url=stack.url, bypass_csp=True, viewport={"width": 1280, "height": 900}
    )  # CSP bypassed so that the test's own axe script may run
    stack.contexts.append(context)
    page = await context.new_page()
    await page.goto("/console/sign-in")
    await page.fill("#staff_id", "max")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("header.top .who")
    for path, status in (
        (f"/console/dashboard?{PERIOD}", 200),
        (f"/console/dashboard?{PERIOD}&team=nowhere-9", 200),  # nothing measured
        ("/console/dashboard?since=2026-13", 422),
    ):
        answer = await page.goto(path)
        assert answer is not None and answer.status == status, path
        assert await axe_violations(page) == [], path
        await page.screenshot(path=str(tmp_path / f"dashboard-{len(path)}.png"), full_page=True)

    monkeypatch.setattr(stack.app.settings, "data_dir", tmp_path / "no-checkpoints")
    answer = await page.goto("/console/dashboard")
    assert answer is not None and answer.status == 503
    assert await axe_violations(page) == []
