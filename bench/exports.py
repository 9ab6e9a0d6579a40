"""Exports of a list: rows/s of the whole list as CSV and as XLSX through the HTTP API,
against the same list read as JSON pages, and the API's peak memory while it exports.

    python bench/exports.py [--quick | --smoke] [--json] [--rows N] [--rounds R]
    python -m bench.exports …   (the same, as a module)

Everything is measured in one run on this machine, against one scratch database on the
PostgreSQL at DATABASE_URL or 127.0.0.1:5432 (created, migrated and dropped here; the
server itself is never stopped or reconfigured) and the HTTP API (uvicorn serving
`create_api`, what `casework serve` runs) in a process of its own
(bench/api.py `api_main`), as in production. No Temporal: reading lists needs none.

* **the list**: N approvals waiting (full and quick 100,000; smoke 1,200), each of its
  own open case, written straight into the read models (`case_summary`, `approvals`)
  as the projector writes them (COPY: building 100,000 cases through the log would take
  most of the run and measure the projector, not exports), spread over 20 teams;
* **baseline**: an auditor reads `GET /api/v1/approvals` page after page with the
  largest page (500 rows), following `next_cursor` to the end, each page parsed as JSON
  (what a script taking the list away as JSON does);
* **csv**: `GET /api/v1/approvals?format=csv`, streamed to the end (rows counted by
  their line ends);
* **xlsx**: `GET /api/v1/approvals?format=xlsx`, streamed to a file (its rows counted
  by openpyxl after the clock stops);
* each R times in turn (full 3, quick 1, smoke 1), the median; rows/s of each and the
  ratio export/baseline (the export reads the same pages and writes a file: CSV should
  keep up with the JSON pages, XLSX costs more);
* **memory**: the API's RSS high-water mark (VmHWM, reset with `clear_refs` before each
  format; psutil samples every 10 ms beside it) minus its RSS at the reset: what
  exporting N rows took. An export holds one page at a time (and XlsxWriter one row),
  so this stays flat as N grows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import httpx
import psutil
from rich.console import Console

from application.bootstrap import open_casework
from bench.api import API_PROCESS, bench_settings, expect, give_accounts, sign_in
from bench.common import (
    BenchError,
    add_size_arguments,
    positive,
    run_bench,
    server_dsn,
    size_of,
    until_signalled,
)
from bench.documents import Phase, RssSampler
from bench.lifecycle import bench_database, child_process, server_facts
from directory import add_staff, add_team, bootstrap_admin, resolve_actor
from infrastructure.keys import master_keyring, origin_keyring
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from infrastructure.temporal import keyring

ADMIN = "root"
AUDITOR = "auditor-1"
TEAMS = 20
READY_TIMEOUT = 90.0
READ_TIMEOUT = 600.0
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FORMATS = ("json", "csv", "xlsx")


@dataclass(frozen=True)
class Sizes:
    rows: int
    """Approvals waiting: the list's rows (N)."""
    rounds: int
    """Reads of the list in each format, measured; the median reported."""


SIZES = {
    "smoke": Sizes(rows=1_200, rounds=1),
    "quick": Sizes(rows=100_000, rounds=1),
    "full": Sizes(rows=100_000, rounds=3),
}


# --- the list --------------------------------------------------------------------------------


async def seed(pool: Any, rows: int) -> None:
    """N open cases, each with a plan approval waiting, as the projector writes them."""
    opened = NOW - timedelta(days=30)
    cases = []
    approvals = []
    for n in range(rows):
        case_id = str(uuid.uuid4())
        team = f"team-{n % TEAMS:02d}"
        worker = f"worker-{n % TEAMS:02d}-{n % 7}"
        cases.append(
            (case_id, "open", f"CL-EXPORT-{n:06d}", "self_referral", worker, team,
             ("low", "medium", "high", "crisis")[n % 4], opened, True,
             opened + timedelta(days=2), NOW + timedelta(days=n % 60), "awaiting_approval",
             "plan-1", 1, "plan", opened + timedelta(days=3), 6)
        )  # fmt: skip
        approvals.append(
            (case_id, f"ap-{n}", "plan", "pending", "plan-1", 1, worker, "caseworker",
             opened + timedelta(days=3, seconds=n))
        )  # fmt: skip
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "case_summary",
            records=cases,
            columns=[
                "case_id", "status", "client_ref", "referral_source", "worker", "team",
                "risk_level", "opened_at", "consent_recorded", "last_assessed_at",
                "next_review_due", "plan_status", "draft_plan_id", "draft_plan_version",
                "pending_approval_kind", "last_event_at", "stream_version",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "approvals",
            records=approvals,
            columns=[
                "case_id", "approval_id", "kind", "status", "plan_id", "plan_version",
                "requested_by", "requested_role", "requested_at",
            ],
        )  # fmt: skip
        await conn.execute("ANALYZE case_summary; ANALYZE approvals")


async def add_auditor(app: Any, password: str) -> None:
    store = app.store
    await bootstrap_admin(store, ADMIN, "Agency admin")
    admin = await resolve_actor(store, ADMIN)
    for t in range(TEAMS):
        await add_team(store, admin, f"team-{t:02d}", f"Team {t}")
    await add_staff(store, admin, AUDITOR, "Auditor", "auditor")
    await give_accounts(app, [AUDITOR], password)


# --- the reads -------------------------------------------------------------------------------


async def json_pages(
    http: httpx.AsyncClient, auth: dict[str, str], scratch: Path
) -> tuple[int, int]:
    """Every page of the list as JSON: (rows, bytes)."""
    rows = size = 0
    cursor: str | None = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        answer = expect(await http.get("/api/v1/approvals", params=params, headers=auth), 200,
                        "a page of approvals")  # fmt: skip
        page = answer.json()
        rows += len(page["items"])
        size += len(answer.content)
        cursor = page["next_cursor"]
        if cursor is None:
            return rows, size


async def csv_export(
    http: httpx.AsyncClient, auth: dict[str, str], scratch: Path
) -> tuple[int, int]:
    """The list as CSV, streamed to the end: (rows, bytes); no cell of the list holds a
    line break, so its rows are its lines but the header."""
    lines = size = 0
    async with http.stream(
        "GET", "/api/v1/approvals", params={"format": "csv"}, headers=auth
    ) as answer:
        if answer.status_code != 200:
            await answer.aread()
            expect(answer, 200, "the CSV export")
        async for chunk in answer.aiter_bytes():
            lines += chunk.count(b"\n")  # CRLF may straddle two chunks: count the LF
            size += len(chunk)
    return lines - 1, size


async def xlsx_export(
    http: httpx.AsyncClient, auth: dict[str, str], scratch: Path
) -> tuple[int, int]:
    """The list as XLSX, streamed to a file: (rows, bytes); rows counted after the clock
    stops would be fairer, so the count is left to `count_xlsx`."""
    target = scratch / "approvals.xlsx"
    size = 0
    async with http.stream(
        "GET", "/api/v1/approvals", params={"format": "xlsx"}, headers=auth
    ) as answer:
        if answer.status_code != 200:
            await answer.aread()
            expect(answer, 200, "the XLSX export")
        with target.open("wb") as out:
            async for chunk in answer.aiter_bytes():
                out.write(chunk)
                size += len(chunk)
    return -1, size


def count_xlsx(path: Path) -> int:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    return int(book["approvals"].max_row or 0) - 1


Read = Callable[[httpx.AsyncClient, dict[str, str], Path], Awaitable[tuple[int, int]]]
READS: dict[str, Read] = {"json": json_pages, "csv": csv_export, "xlsx": xlsx_export}


@dataclass
class Measured:
    seconds: list[float]
    rows: int = 0
    bytes: int = 0
    memory: dict[str, Any] | None = None

    def figures(self) -> dict[str, Any]:
        median = statistics.median(self.seconds)
        return {
            "n": len(self.seconds),
            "rows": self.rows,
            "bytes": self.bytes,
            "seconds_p50": round(median, 3),
            "seconds_max": round(max(self.seconds), 3),
            "rows_per_s": round(self.rows / median) if median else 0,
            "mb_s": round(self.bytes / 1e6 / median, 2) if median else 0.0,
        }


async def measure(size: str, sizes: Sizes, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    password = secrets.token_urlsafe(18)
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        scratch = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-exp-")))
        settings, env = bench_settings(dsn, scratch)
        # The development keys made before the API starts, so both processes share them.
        keyring(settings)
        master_keyring(settings)
        origin_keyring(settings)
        app = await exits.enter_async_context(open_casework(settings, dsn=dsn, pool_size=4))
        await add_auditor(app, password)
        say(f"the list: {sizes.rows:,} approvals waiting, written into the read models")
        seeded_at = time.perf_counter()
        await seed(app.pool, sizes.rows)
        seed_s = time.perf_counter() - seeded_at

        say("starting the HTTP API (api_main, a process of its own)")
        child = await exits.enter_async_context(
            child_process("HTTP API", API_PROCESS, env, scratch / "api.log")
        )
        base = f"http://{settings.http_host}:{settings.http_port}"
        http = await exits.enter_async_context(
            httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(READ_TIMEOUT, connect=10))
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            child.check()
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"the HTTP API did not answer within {READY_TIMEOUT:.0f} s")
            await asyncio.sleep(0.2)
        auth = await sign_in(http, AUDITOR, password)

        say("warming up: a small page (connections, caches)")
        expect(await http.get("/api/v1/approvals?limit=5", headers=auth), 200, "warm-up")

        measured = {name: Measured([]) for name in FORMATS}
        for round_ in range(sizes.rounds):
            for name in FORMATS:
                say(f"round {round_ + 1}/{sizes.rounds}: the whole list as {name}")
                phase = Phase(child.pid)
                phase.begin()
                sampler = RssSampler(child.pid)
                async with sampler.running():
                    began = time.perf_counter()
                    rows, size_bytes = await READS[name](http, auth, scratch)
                    elapsed = time.perf_counter() - began
                if name == "xlsx":
                    rows = count_xlsx(scratch / "approvals.xlsx")
                if rows != sizes.rows:
                    raise BenchError(f"the {name} list held {rows:,} rows, not {sizes.rows:,}")
                m = measured[name]
                m.seconds.append(elapsed)
                m.rows, m.bytes = rows, size_bytes
                if m.memory is None:
                    m.memory = phase.end(sampler.peak, 0)
        child.check()
        facts = await server_facts(app.pool)
        recorded = await app.pool.fetch(
            """SELECT a.view, e.row_count, e.outcome FROM access_log a
                 JOIN access_log_export_ends e USING (access_id) WHERE a.view LIKE 'export %'"""
        )
        say("stopping the API, dropping the scratch database")
    baseline = measured["json"].figures()
    out: dict[str, Any] = {name: measured[name].figures() for name in FORMATS}
    for name in ("csv", "xlsx"):
        out[name]["ratio"] = (
            round(out[name]["rows_per_s"] / baseline["rows_per_s"], 3)
            if baseline["rows_per_s"]
            else 0.0
        )
    memory = {}
    for name in FORMATS:
        phase_memory = measured[name].memory or {}
        memory[name] = {
            k: phase_memory.get(k)
            for k in (
                "baseline_rss_mib",
                "peak_rss_mib",
                "hwm_mib",
                "sampled_peak_mib",
                "growth_mib",
            )
        }
    exports_recorded = {
        "exports": len(recorded),
        "all_complete": all(
            r["outcome"] == "complete" and r["row_count"] == sizes.rows for r in recorded
        ),
    }
    return {
        "benchmark": "exports",
        "size": size,
        "sizes": {"rows": sizes.rows, "rounds": sizes.rounds, "page": 500},
        "seed_seconds": round(seed_s, 1),
        "json": out["json"],
        "csv": out["csv"],
        "xlsx": out["xlsx"],
        "memory": memory,
        "recorded": exports_recorded,
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


def report(console: Console, f: dict[str, Any]) -> None:
    s = f["sizes"]
    console.print(
        f"exports of a list of {s['rows']:,} rows through the HTTP API "
        f"(median of {s['rounds']}), against the JSON pages of {s['page']} rows"
    )
    console.print(f"  {'format':<6} {'rows/s':>10} {'MB/s':>7} {'MB':>8} {'s':>7} {'ratio':>6} "
                  f"{'API RSS +MiB':>13}")  # fmt: skip
    for name in FORMATS:
        x, m = f[name], f["memory"][name]
        ratio = "" if name == "json" else f"{x['ratio']:.2f}"
        console.print(
            f"  {name:<6} {x['rows_per_s']:>10,} {x['mb_s']:>7.1f} {x['bytes'] / 1e6:>8.1f} "
            f"{x['seconds_p50']:>7.2f} {ratio:>6} {m['growth_mib']:>13}"
        )
    console.print(f"{f['machine']['cpus']} CPUs; {f['seconds']} s in all")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.rows is not None:
        sizes = replace(sizes, rows=args.rows)
    if args.rounds is not None:
        sizes = replace(sizes, rounds=args.rounds)

    def say(message: str) -> None:
        sys.stderr.write(f"[exports bench] {message}\n")
        sys.stderr.flush()

    f = await until_signalled(measure(size, sizes, say))
    report(Console(), f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="100,000 rows, each format once: a minute or two",
        smoke="1,200 rows (three pages): seconds (the test suite)",
    )
    parser.add_argument("--rows", type=positive, default=None, help="rows in the list (N)")
    parser.add_argument("--rounds", type=positive, default=None, help="reads of each format")
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("exports", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
