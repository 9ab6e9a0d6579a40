"""The KPI report: computed from its read model as of a signed checkpoint, and recomputed
from the log as of that checkpoint (`casework report rebuild`), against a plain read of
the same events.

    python bench/reports.py [--quick | --smoke] [--json]
    python -m bench.reports …   (the same, as a module)

One scratch database on the PostgreSQL at DATABASE_URL or 127.0.0.1:5432 (created,
migrated and dropped here) and a temporary data directory (the notary's development
key and its checkpoints):

* **seed**: a year of cases (full 10,000, quick 2,000, smoke 24), simulated lifecycles
  (devtools/simulation.py) opening through 2025, appended by 16 writers; the `kpi`
  read model caught up (its events/s), then a signed checkpoint of the whole log;
* **report**: `kpi_report` for a manager, the twelve months of 2025 by month, team,
  worker and subject, as of that checkpoint: p50/p99 ms over the rounds;
* **rebuild**: `rebuild_report` of that report (every event up to the checkpoint read,
  hashed as its Merkle leaf, the measured ones decoded and folded, the figures summed
  and compared): seconds, and its ratio to the **baseline**, the same events read in
  the same order with the same columns and nothing else done (the I/O floor), measured
  alternately in the same run. The rebuild must match.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from application.bootstrap import open_casework
from application.notary import checkpoint_now
from application.reports.kpi import kpi_report
from application.reports.rebuild import rebuild_report
from bench.common import (
    BenchError,
    add_size_arguments,
    run_bench,
    scratch_database,
    server_dsn,
    size_of,
)
from cases.actors import Actor, Role
from devtools.simulation import RandomChooser, simulate_case
from events.envelope import NewEvent
from events.merkle import LEAF_COLUMNS
from events.store import EventStore
from infrastructure.database import create_pool
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from projections import kpi
from projections.runner import ProjectionRunner


@dataclass(frozen=True)
class Sizes:
    cases: int
    rounds: int
    rebuilds: int


SIZES = {
    "smoke": Sizes(cases=24, rounds=3, rebuilds=1),
    "quick": Sizes(cases=2_000, rounds=20, rebuilds=2),
    "full": Sizes(cases=10_000, rounds=50, rebuilds=3),
}
MANAGER = Actor(staff_id="max", role=Role.MANAGER)
TEAMS: dict[str, tuple[str, ...]] = {
    f"team-{n}": (f"worker-{n}1", f"worker-{n}2", f"worker-{n}3") for n in "abcdef"
}


async def seed(store: EventStore, cases: int, writers: int = 16) -> int:
    queue: asyncio.Queue[tuple[uuid.UUID, list[NewEvent]] | None] = asyncio.Queue(maxsize=256)
    total = 0
    start = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
    spacing = timedelta(days=300) / cases

    async def produce() -> None:
        for i in range(cases):
            await queue.put(
                simulate_case(RandomChooser(i), steps=30, start=start + spacing * i, teams=TEAMS)
            )
        for _ in range(writers):
            await queue.put(None)

    async def write() -> None:
        nonlocal total
        while (item := await queue.get()) is not None:
            case_id, events = item
            await store.append(f"case-{case_id}", 0, events)
            total += len(events)

    await asyncio.gather(produce(), *(write() for _ in range(writers)))
    return total


async def plain_read(dsn: str, tree_size: int) -> float:
    """The baseline: the same rows, in the same order, read and dropped."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            cursor = conn.cursor(
                f"SELECT {LEAF_COLUMNS} FROM events ORDER BY transaction_id, global_position "
                "LIMIT $1",
                tree_size,
                prefetch=5000,
            )
            async for _ in cursor:
                pass
        return time.perf_counter() - started
    finally:
        await conn.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    with tempfile.TemporaryDirectory(prefix="casework-bench-reports-") as data:
        async with scratch_database(server_dsn()) as dsn:
            settings = Settings.model_validate(
                {"DATABASE_URL": dsn, "CASEWORK_DATA_DIR": data, "CASEWORK_LOG_LEVEL": "WARNING"}
            )
            pool = await create_pool(dsn, min_size=2, max_size=20)
            try:
                started = time.perf_counter()
                events = await seed(EventStore(pool), sizes.cases)
                seed_s = time.perf_counter() - started
                conn = await asyncpg.connect(dsn)
                try:
                    started = time.perf_counter()
                    await ProjectionRunner(kpi.PROJECTION, dsn, EventStore(pool)).catch_up(conn)
                    project_s = time.perf_counter() - started
                finally:
                    await conn.close()
                measures = await pool.fetchval("SELECT count(*) FROM kpi_measures")
            finally:
                await pool.close()
            signed = await checkpoint_now(settings, dsn)
            if signed is None or signed.tree_size != events:
                raise BenchError("the notary did not sign a checkpoint of the whole log")
            async with open_casework(settings, dsn=dsn) as app:
                times: list[float] = []
                for _ in range(sizes.rounds):
                    started = time.perf_counter()
                    report = await kpi_report(app, MANAGER, since="2025-01", until="2025-12")
                    times.append((time.perf_counter() - started) * 1000)
            rebuild_s: list[float] = []
            plain_s: list[float] = []
            conn = await asyncpg.connect(dsn)
            try:
                for _ in range(sizes.rebuilds):
                    plain_s.append(await plain_read(dsn, signed.tree_size))
                    started = time.perf_counter()
                    result = await rebuild_report(conn, settings, report)
                    rebuild_s.append(time.perf_counter() - started)
                    if not result.matches:
                        raise BenchError(f"the rebuild does not match: {result.to_json()}")
            finally:
                await conn.close()
    rebuild = statistics.median(rebuild_s)
    plain = statistics.median(plain_s)
    return {
        "benchmark": "reports",
        "size": size,
        "cases": sizes.cases,
        "events": events,
        "measures": measures,
        "figures": len(report.cells),
        "seed_seconds": round(seed_s, 1),
        "projection_events_per_s": round(events / project_s),
        "report_ms": {
            "p50": round(statistics.median(times), 1),
            "p99": round(_pct(times, 0.99), 1),
            "n": len(times),
        },
        "rebuild": {
            "seconds": round(rebuild, 2),
            "events_per_s": round(events / rebuild),
            "plain_read_seconds": round(plain, 2),
            "ratio": round(plain / rebuild, 3),
            "matches": True,
        },
    }


def render(r: dict[str, Any]) -> str:
    rb = r["rebuild"]
    return "\n".join(
        [
            f"reports benchmark: {r['cases']:,} cases over 2025, {r['events']:,} events, "
            f"{r['measures']:,} measures, {r['figures']:,} figures",
            f"  kpi read model: {r['projection_events_per_s']:,} events/s",
            f"  report (read model, as of the checkpoint): p50 {r['report_ms']['p50']} ms, "
            f"p99 {r['report_ms']['p99']} ms",
            f"  rebuild from the log: {rb['seconds']} s ({rb['events_per_s']:,} events/s); "
            f"a plain read {rb['plain_read_seconds']} s; ratio {rb['ratio']}",
        ]
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    add_size_arguments(
        parser, quick="2,000 cases, a minute or two", smoke="24 cases, seconds (for the tests)"
    )
    args = parser.parse_args()
    configure_logging(Settings(CASEWORK_LOG_LEVEL="WARNING"))

    async def work() -> dict[str, Any]:
        figures = await main_async(args)
        if not args.json:
            sys.stdout.write(render(figures) + "\n")
        return figures

    sys.exit(run_bench("reports", work, args.json))


if __name__ == "__main__":
    cli()
