"""The KPI dashboard's server-side render time, against the caseload page's in the same run.

    python bench/dashboard.py [--quick | --smoke] [--json] [--open-cases M] [--closed-cases N]
    python -m bench.dashboard …   (the same, as a module)

One scratch database on the PostgreSQL at DATABASE_URL or 127.0.0.1:5432 (created,
migrated and dropped here; the server itself is never stopped or reconfigured) and a
temporary data directory (the notary's development key and its checkpoints). No
Temporal server: neither page asks a workflow anything.

The data:

* **open cases**: valid case lifecycles appended through the event store until M are
  open (bench/api.py `seed`, as bench/console.py loads them; closed ones come with
  them), then every projection rebuilt from the log, as `casework projections rebuild`
  does: the caseload's read models and the `kpi` read model of these cases are real.
  Full size 2,000 open cases, quick 1,000, smoke a couple of dozen.
* **closed cases**: N more cases' KPI measures (full 50,000, quick 20,000, smoke 500),
  written straight into the `kpi` read model's `kpi_measures` with COPY: each case
  opened on a day of 2024-2025 and closed 3 weeks to 13 months later, its first
  contact, assessment, plan approval, closure, reviews, escalations, referrals to one of
  twelve services, goals by domain, plan actions, advocacy and ratings drawn from a
  seeded random generator (about 14 measures a case). They stand for an older log's
  history: their rows carry places before every event of this log (transaction 0,
  negative positions), so every checkpoint of this log counts them. The bench says
  how many rows there are and how many the report counted.
* **a signed checkpoint** of the whole log (`checkpoint_now`, as `casework notary
  checkpoint`), which the `kpi` read model has applied (the report's own check).

Then the console (`create_api`, as `casework serve` serves it) answers, in this process
through ASGI (no network, no browser: the server's own time), with real sessions:

* `caseload`: `GET /console/caseload` as a manager (every open case): the **baseline**;
* `dashboard`: `GET /console/dashboard?since=2025-01&until=2025-12` as the manager
  (every team, the twelve months of 2025; half of the closed cases' measures lie in
  them): the report (`kpi_report`: the checkpoint, the cells summed in SQL) and twelve
  panels, each a chart and a table; the charts as a viewer after the first sees them
  (drawn charts are kept by their content, casework/console/charts.py);
* `dashboard_cold`: the same with no chart kept (the first viewer after a checkpoint);
* `dashboard_team`: the same months as the first team's supervisor.

The pages are rendered in turn, round after round, so a noisy neighbour slows all alike.
Each page's p50/p99, the ratio of the dashboard's p99 to the caseload's, and the
report's own time (`kpi_report` called directly, the same rounds) to show the split.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import httpx
import psutil

from application.bootstrap import Casework, open_casework
from application.notary import checkpoint_now
from application.reports.kpi import kpi_report, report_checkpoint
from bench.api import (
    MANAGER,
    add_directory,
    bench_settings,
    give_accounts,
    project,
    seed,
    supervisor_of,
    teams_for,
)
from bench.common import (
    BenchError,
    add_size_arguments,
    positive,
    run_bench,
    server_dsn,
    size_of,
    until_signalled,
)
from bench.console import console_client, figures_of, render, session_for
from bench.lifecycle import bench_database, server_facts
from cases.kpi import Kpi
from casework.api.app import create_api
from casework.console import charts
from directory import resolve_actor
from events.choices import AdvocacyBarrier, AdvocacyOutcome, ClosureReason, Domain, FeedbackSubject
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings

PERIOD = "since=2025-01&until=2025-12"
HISTORY_FROM = date(2024, 1, 1)
HISTORY_UNTIL = date(2025, 12, 31)
SERVICES = tuple(f"provider-{p}/service-{s}" for p in range(6) for s in range(2))
ESCALATIONS = ("review", "referral", "action", "advocacy")
PAGES = ("caseload", "dashboard", "dashboard_cold", "dashboard_team")
TARGET_P99_MS = 100.0
"""The console's render target (docs/console.md "Render time"), for the warm dashboard."""
TARGET_AT_OPEN_CASES = 2_000
TARGET_AT_CLOSED_CASES = 50_000


@dataclass(frozen=True)
class Sizes:
    open_cases: int
    """Open cases in the read models (M), seeded as real events."""
    closed_cases: int
    """Closed cases' KPI measures written into the read model (N)."""
    rounds: int
    warmup: int


SIZES = {
    "smoke": Sizes(open_cases=24, closed_cases=500, rounds=5, warmup=1),
    "quick": Sizes(open_cases=1_000, closed_cases=20_000, rounds=50, warmup=3),
    "full": Sizes(open_cases=2_000, closed_cases=50_000, rounds=200, warmup=5),
}


# --- the closed cases' measures ------------------------------------------------------------------

MEASURE_COLUMNS = (
    "transaction_id", "global_position", "ordinal", "case_id", "kpi", "team", "worker", "day",
    "subject", "value",
)  # fmt: skip
Row = tuple[int, int, int, uuid.UUID, str, str, str, date, str, int]


def closed_case_measures(
    rng: random.Random, index: int, teams: dict[str, tuple[str, ...]]
) -> Iterator[Row]:
    """One closed case's measures (see the module's docstring), at a place before the log."""
    names = sorted(teams)
    team = names[index % len(names)]
    worker = rng.choice(teams[team])
    case_id = uuid.UUID(int=rng.getrandbits(128))
    span = (HISTORY_UNTIL - HISTORY_FROM).days
    opened = HISTORY_FROM + timedelta(days=rng.randrange(span - 21))
    closed = min(HISTORY_UNTIL, opened + timedelta(days=rng.randint(21, 400)))
    length = (closed - opened).days
    day_s = 86_400
    found: list[tuple[Kpi, date, str, int]] = []

    def after(days: int) -> date:
        return min(closed, opened + timedelta(days=days))

    contact = rng.randint(0, min(14, length))
    found.append((Kpi.REFERRAL_TO_FIRST_CONTACT, after(contact), "", contact * day_s + 3600))
    assessed = rng.randint(1, min(30, length))
    found.append((Kpi.REFERRAL_TO_ASSESSMENT, after(assessed), "", assessed * day_s))
    if rng.random() < 0.7:
        approved = rng.randint(min(10, length), min(60, length))
        found.append((Kpi.REFERRAL_TO_PLAN_APPROVAL, after(approved), "", approved * day_s))
    reason = rng.choice(list(ClosureReason)).value
    found.append((Kpi.CASE_DURATION, closed, reason, length * day_s))
    for review in range(length // 90):
        on_time = int(rng.random() < 0.85)
        found.append((Kpi.REVIEW_ON_TIME, after(90 * (review + 1)), "", on_time))
    if rng.random() < 0.3:
        about = rng.choice(ESCALATIONS)
        raised = rng.randint(0, length)
        found.append((Kpi.ESCALATION_RAISED, after(raised), about, 1))
        open_for = rng.randint(1, 20)
        found.append((Kpi.ESCALATION_OPEN_TIME, after(raised + open_for), about, open_for * day_s))
    for _ in range(rng.randint(1, 2)):
        service = rng.choice(SERVICES)
        replied = after(rng.randint(5, max(5, length // 2)))
        accepted = rng.random() < 0.8
        found.append((Kpi.REFERRAL_ACCEPTED, replied, service, int(accepted)))
        found.append((Kpi.REFERRAL_COMPLETED, after(rng.randint(length // 2, length)), service,
                      int(accepted and rng.random() < 0.75)))  # fmt: skip
    for _ in range(3):
        domain = rng.choice(list(Domain)).value
        found.append((Kpi.GOAL_MET, closed, domain, int(rng.random() < 0.55)))
    for _ in range(rng.randint(0, 3)):
        found.append((Kpi.ACTION_ON_TIME, after(rng.randint(10, length)), "",
                      int(rng.random() < 0.75)))  # fmt: skip
    if rng.random() < 0.15:
        barrier = rng.choice(list(AdvocacyBarrier)).value
        outcome = rng.choice(list(AdvocacyOutcome)).value
        found.append((Kpi.ADVOCACY_OUTCOME, after(rng.randint(7, length)), f"{barrier}/{outcome}",
                      1))  # fmt: skip
    if rng.random() < 0.5:
        about = rng.choice(list(FeedbackSubject)).value
        found.append((Kpi.FEEDBACK_RATING, closed, about, rng.choice((2, 3, 4, 4, 5, 5))))
    for ordinal, (kpi, day, subject, value) in enumerate(found):
        yield (0, -(index + 1), ordinal, case_id, kpi.value, team, worker, day, subject, value)


async def add_closed_cases(
    app: Casework, closed_cases: int, teams: dict[str, tuple[str, ...]]
) -> int:
    """The closed cases' measures, COPYed into `kpi_measures`; how many rows."""
    rng = random.Random(20240101)
    rows = [row for i in range(closed_cases) for row in closed_case_measures(rng, i, teams)]
    async with app.pool.acquire() as conn:
        await conn.copy_records_to_table("kpi_measures", records=rows, columns=MEASURE_COLUMNS)
    return len(rows)


# --- rendering ------------------------------------------------------------------------------------


async def measure_pages(
    pages: dict[str, tuple[httpx.AsyncClient, str, str]], sizes: Sizes, cold: set[str]
) -> dict[str, dict[str, Any]]:
    """Each page `warmup` then `rounds` times, the pages in turn; before each render of a
    page in `cold`, every kept chart is forgotten, and drawn again after it for the other
    pages (neither timed)."""
    timings: dict[str, list[float]] = {name: [] for name in pages}
    sizes_bytes: dict[str, int] = {}
    for round_ in range(sizes.warmup + sizes.rounds):
        for name, (client, path, expect) in pages.items():
            if name in cold:
                charts.svg.cache_clear()
            elapsed, size = await render(client, path, expect)
            sizes_bytes[name] = size
            if round_ >= sizes.warmup:
                timings[name].append(elapsed)
            if name in cold:  # the other pages' charts kept again, as before (not timed)
                for other, (again, other_path, shows) in pages.items():
                    if other not in cold:
                        await render(again, other_path, shows)
    return {
        name: {**figures_of(timings[name]), "path": pages[name][1], "bytes": sizes_bytes[name]}
        for name in pages
    }


async def measure_report(app: Casework, rounds: int) -> dict[str, Any]:
    """`kpi_report` alone for the manager, the same months: the report's share of a page."""
    manager = await resolve_actor(app.store, MANAGER)
    seconds: list[float] = []
    cells = 0
    for _ in range(rounds + 1):
        started = time.perf_counter()
        report = await kpi_report(app, manager, since="2025-01", until="2025-12")
        seconds.append(time.perf_counter() - started)
        cells = len(report.cells)
    return {**figures_of(seconds[1:]), "cells": cells}


# --- the run --------------------------------------------------------------------------------------


async def notarise(app: Casework, dsn: str) -> dict[str, Any]:
    """A signed checkpoint of the whole log, which the kpi read model has applied."""
    total = int(await app.pool.fetchval("SELECT count(*) FROM events"))
    signed = await checkpoint_now(app.settings, dsn)
    if signed is None or signed.tree_size != total:
        raise BenchError(f"the checkpoint does not cover the log's {total} events: {signed}")
    await report_checkpoint(app)  # NoCheckpoint unless the kpi read model has applied it
    return {"sequence": signed.sequence, "tree_size": signed.tree_size}


async def measure(size: str, sizes: Sizes, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    password = secrets.token_urlsafe(18)
    teams = teams_for(sizes.open_cases)
    supervisor = supervisor_of(sorted(teams)[0])
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        data_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-dash-")))
        settings, _ = bench_settings(dsn, data_dir)
        app = await exits.enter_async_context(open_casework(settings, dsn=dsn, pool_size=10))
        await add_directory(app, teams)
        await give_accounts(app, [MANAGER, supervisor], password)

        say(f"open cases: appending case lifecycles until {sizes.open_cases:,} are open")
        seeded_at = time.perf_counter()
        counts = await seed(app, sizes.open_cases, teams)
        seed_s = time.perf_counter() - seeded_at
        say(f"read models: {counts['events']:,} events; rebuilding every projection")
        project_s = await project(dsn)
        say(f"closed cases: {sizes.closed_cases:,} cases' KPI measures by COPY")
        copied_at = time.perf_counter()
        copied = await add_closed_cases(app, sizes.closed_cases, teams)
        copy_s = time.perf_counter() - copied_at
        await app.pool.execute("ANALYZE")
        say("a signed checkpoint of the whole log")
        checkpoint = await notarise(app, dsn)

        open_now = int(
            await app.pool.fetchval("SELECT count(*) FROM case_summary WHERE status = 'open'")
        )
        if open_now < sizes.open_cases:
            raise BenchError(f"case_summary holds {open_now} open cases, not {sizes.open_cases}")
        measures = int(await app.pool.fetchval("SELECT count(*) FROM kpi_measures"))

        api = create_api(settings, casework=app)
        manager = await exits.enter_async_context(
            console_client(api, await session_for(app, MANAGER, password))
        )
        team_lead = await exits.enter_async_context(
            console_client(api, await session_for(app, supervisor, password))
        )
        dashboard = f"/console/dashboard?{PERIOD}"
        shows = 'class="pygal-chart kpi-chart"'
        pages = {
            "caseload": (manager, "/console/caseload", '<table class="caseload">'),
            "dashboard": (manager, dashboard, shows),
            "dashboard_cold": (manager, dashboard, shows),
            "dashboard_team": (team_lead, dashboard, shows),
        }
        say(f"rendering each page {sizes.warmup} + {sizes.rounds} times")
        rendered = await measure_pages(pages, sizes, cold={"dashboard_cold"})
        say(f"the report alone (kpi_report), {sizes.rounds} times")
        report = await measure_report(app, sizes.rounds)
        facts = await server_facts(app.pool)
        say("dropping the scratch database")
    baseline = rendered["caseload"]["p99_ms"]
    ratios = {
        f"{name}_p99_to_caseload_p99": round(rendered[name]["p99_ms"] / baseline, 3)
        for name in ("dashboard", "dashboard_cold", "dashboard_team")
    }
    return {
        "benchmark": "dashboard",
        "size": size,
        "sizes": {
            "open_cases": sizes.open_cases,
            "closed_cases": sizes.closed_cases,
            "rounds": sizes.rounds,
            "warmup": sizes.warmup,
        },
        "data": {
            "open_cases": open_now,
            "closed_cases": counts["cases"] - counts["open"] + sizes.closed_cases,
            "seeded_cases": counts["cases"],
            "seeded_events": counts["events"],
            "teams": len(teams),
            "workers": sum(len(w) for w in teams.values()),
            "kpi_measures": measures,
            "kpi_measures_copied": copied,
            "report_cells": report["cells"],
            "checkpoint_sequence": checkpoint["sequence"],
            "checkpoint_tree_size": checkpoint["tree_size"],
            "seed_seconds": round(seed_s, 1),
            "projection_rebuild_seconds": round(project_s, 1),
            "copy_seconds": round(copy_s, 1),
        },
        "pages": rendered,
        "report": report,
        "ratios": ratios,
        "targets": {
            "p99_ms_max": TARGET_P99_MS,
            "at_open_cases": TARGET_AT_OPEN_CASES,
            "at_closed_cases": TARGET_AT_CLOSED_CASES,
            "dashboard_p99_met": rendered["dashboard"]["p99_ms"] <= TARGET_P99_MS,
        },
        "load_average_at_start": load_at_start,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": facts,
        },
    }


def report_lines(f: dict[str, Any]) -> str:
    d, t = f["data"], f["targets"]
    lines = [
        f"KPI dashboard render time (server side, in process): {d['open_cases']:,} open and "
        f"{d['closed_cases']:,} closed cases, {d['teams']} teams of {d['workers']} workers, "
        f"{d['kpi_measures']:,} KPI measures; the manager's report: {d['report_cells']:,} cells",
        "",
        f"  {'page':<15} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'n':>5} {'KiB':>7}",
    ]
    for name in PAGES:
        p = f["pages"][name]
        lines.append(
            f"  {name:<15} {p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f} {p['max_ms']:>8.1f} "
            f"{p['n']:>5} {p['bytes'] / 1024:>7.1f}"
        )
    r = f["report"]
    lines.append(
        f"  {'kpi_report':<15} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f}"
    )
    lines.append("")
    for name, ratio in f["ratios"].items():
        lines.append(f"  {name}: {ratio}")
    met = "met" if t["dashboard_p99_met"] else "MISSED"
    lines.append(f"  dashboard p99 <= {t['p99_ms_max']:.0f} ms: {met}")
    m = f["machine"]
    lines.append(
        f"{m['cpus']} CPUs; load average at the start {f['load_average_at_start']}, at the end "
        f"{m['load_average']}; {f['seconds']} s in all"
    )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.open_cases is not None:
        sizes = replace(sizes, open_cases=args.open_cases)
    if args.closed_cases is not None:
        sizes = replace(sizes, closed_cases=args.closed_cases)

    def say(message: str) -> None:
        sys.stderr.write(f"[dashboard bench] {message}\n")
        sys.stderr.flush()

    f = await until_signalled(measure(size, sizes, say))
    sys.stdout.write(report_lines(f) + "\n")
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="1,000 open and 20,000 closed cases, 50 renders a page: a few minutes",
        smoke="a couple of dozen open and 500 closed cases: well under a minute (the test suite)",
    )
    parser.add_argument(
        "--open-cases", type=positive, default=None, help="open cases in the read models (M)"
    )
    parser.add_argument(
        "--closed-cases", type=positive, default=None, help="closed cases' KPI measures (N)"
    )
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("dashboard", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
