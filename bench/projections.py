"""Benchmark of the projections: rebuild rate, query latency, append-to-visible lag.

    .venv/bin/python bench/projections.py --quick        # ~2,000 cases, about a minute
    .venv/bin/python bench/projections.py                # 100,000 cases, ~2M events
    .venv/bin/python bench/projections.py --quick --json

Seeds cases through the event store (valid lifecycles, ~20 events a case, appended
by concurrent writers) into a database of its own on the server at DATABASE_URL
(else 127.0.0.1:5432), then measures in one run:

* rebuild rate of every projection (events/s) against a raw ceiling: reading the
  same rows with the same batches and doing the same number of single-row writes
  (one per handled event) in the same per-batch transactions, with no logic;
* p50/p99 latency of the caseload (a supervisor's team, a caseworker's own), overdue
  reviews and case-timeline queries. Review dates come with issue 4's events, which
  do not exist yet: the bench writes synthetic `case_reviews` rows and
  `case_summary.next_review_due` values (due dates ±60 days) for the overdue query;
* lag from append (commit acknowledged) to visibility in the read models (the case
  timeline row, and the case summary's stream version) under a steady append load,
  with `casework projector` running in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before imports: this file's name shadows the package

import asyncpg  # noqa: E402

from application.migrations import apply_migrations  # noqa: E402
from cases.actors import Actor, Role  # noqa: E402
from events.envelope import EventMetadata, NewEvent  # noqa: E402
from events.store import START, EventStore, GlobalCursor  # noqa: E402
from events.vocabulary import ContactKind, ContactLogged  # noqa: E402
from infrastructure.database import create_pool  # noqa: E402
from infrastructure.logs import configure_logging  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from projections import queries  # noqa: E402
from projections.base import Projection  # noqa: E402
from projections.catalog import all_projections  # noqa: E402
from projections.rebuild import rebuild  # noqa: E402
from tests.pg import create_database, drop_database, with_database  # noqa: E402
from tests.projections.lifecycle import RandomChooser, simulate_case  # noqa: E402

TARGETS = {
    "rebuild_vs_ceiling": 0.30,
    "caseload_p99_ms": 10.0,
    "overdue_p99_ms": 10.0,
    "append_to_visible_p99_ms": 200.0,
}


def _server() -> str:
    return os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def _teams(cases: int) -> dict[str, tuple[str, ...]]:
    """About 8 workers a team and 50 cases a worker, as in an agency."""
    count = max(2, cases // 400)
    return {f"team-{t:03d}": tuple(f"worker-{t:03d}-{w}" for w in range(8)) for t in range(count)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_pct(values, 0.50) * 1000, 3),
        "p99_ms": round(_pct(values, 0.99) * 1000, 3),
        "n": len(values),
    }


async def seed(
    store: EventStore, cases: int, teams: dict[str, tuple[str, ...]], writers: int = 16
) -> tuple[int, list[uuid.UUID]]:
    rng = random.Random(20260105)
    queue: asyncio.Queue[tuple[uuid.UUID, list[NewEvent]] | None] = asyncio.Queue(maxsize=256)
    ids: list[uuid.UUID] = []
    total = 0

    async def produce() -> None:
        chooser = RandomChooser(rng)
        start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        for i in range(cases):
            case = simulate_case(
                chooser,
                steps=rng.randint(10, 28),
                start=start + timedelta(minutes=7 * i),
                teams=teams,
            )
            await queue.put(case)
        for _ in range(writers):
            await queue.put(None)

    async def write() -> None:
        nonlocal total
        while (item := await queue.get()) is not None:
            case_id, events = item
            await store.append(f"case-{case_id}", 0, events)
            ids.append(case_id)
            total += len(events)

    await asyncio.gather(produce(), *(write() for _ in range(writers)))
    return total, ids


async def handled_count(pool: asyncpg.Pool, projection: Projection) -> int:
    value = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = ANY($1::text[])",
        sorted(projection.handled),
    )
    return int(value or 0)


async def ceiling(dsn: str, store: EventStore, projection: Projection, batch_size: int) -> float:
    """Seconds to read every event in the same batches and write once per handled event."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_ceiling")
        await conn.execute("CREATE TABLE bench_ceiling (case_id text, n bigint, event_type text)")
        started = time.perf_counter()
        cursor = START
        while True:
            batch = await store.read_all(cursor, batch_size)
            if not batch:
                break
            async with conn.transaction():
                for event in batch:
                    if event.event_type in projection.handlers:
                        await conn.execute(
                            "INSERT INTO bench_ceiling VALUES ($1, $2, $3)",
                            event.stream_id,
                            event.global_position,
                            event.event_type,
                        )
                await conn.execute("SELECT 1")  # the checkpoint write
            cursor = GlobalCursor.of(batch[-1])
        return time.perf_counter() - started
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_ceiling")
        await conn.close()


async def measure_rebuilds(
    dsn: str, pool: asyncpg.Pool, store: EventStore, events: int
) -> dict[str, Any]:
    batch_size = 2000
    rows = []
    total_rebuild = total_ceiling = 0.0
    for projection in all_projections():
        result = await rebuild(dsn, projection, batch_size=batch_size)
        raw = await ceiling(dsn, store, projection, batch_size)
        total_rebuild += result.seconds
        total_ceiling += raw
        rows.append(
            {
                "projection": projection.name,
                "events": result.events,
                "handled_events": await handled_count(pool, projection),
                "rebuild_s": round(result.seconds, 3),
                "rebuild_events_per_s": round(result.events / result.seconds),
                "ceiling_s": round(raw, 3),
                "ceiling_events_per_s": round(result.events / raw),
                "ratio": round(raw / result.seconds, 3),
            }
        )
    return {
        "projections": rows,
        "all_events_per_s": round(events * len(rows) / total_rebuild),
        "ceiling_events_per_s": round(events * len(rows) / total_ceiling),
        "ratio": round(total_ceiling / total_rebuild, 3),
    }


async def synthesize_reviews(pool: asyncpg.Pool, now: datetime) -> None:
    """Stand-in for issue 4's review events: a due date per open case, ±60 days."""
    await pool.execute(
        """INSERT INTO case_reviews (case_id, due_on, status, scheduled_at, updated_at)
           SELECT case_id, ($1::date + ((hashtext(case_id) % 60))), 'scheduled', opened_at,
                  opened_at
             FROM case_summary WHERE status = 'open'
           ON CONFLICT (case_id) DO NOTHING""",
        now.date(),
    )
    await pool.execute(
        """UPDATE case_summary cs SET next_review_due = r.due_on
             FROM case_reviews r WHERE r.case_id = cs.case_id"""
    )
    await pool.execute("ANALYZE")


async def measure_queries(
    pool: asyncpg.Pool, ids: list[uuid.UUID], teams: dict[str, tuple[str, ...]], rounds: int
) -> dict[str, Any]:
    rng = random.Random(7)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    team_names = sorted(teams)
    manager = Actor(staff_id="manager-1", role=Role.MANAGER)
    timings: dict[str, list[float]] = {
        "caseload_team": [],
        "caseload_worker": [],
        "overdue_team": [],
        "timeline": [],
    }
    for _ in range(rounds):
        team = rng.choice(team_names)
        supervisor = Actor(staff_id=f"super-{team}", role=Role.SUPERVISOR, team=team)
        worker = Actor(staff_id=rng.choice(teams[team]), role=Role.CASEWORKER, team=team)
        calls: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("caseload_team", partial(queries.caseload, pool, supervisor, now=now)),
            ("caseload_worker", partial(queries.caseload, pool, worker, now=now)),
            (
                "overdue_team",
                partial(queries.reviews, pool, supervisor, overdue_only=True, now=now),
            ),
            ("timeline", partial(queries.timeline, pool, manager, rng.choice(ids))),
        ]
        for name, call in calls:
            started = time.perf_counter()
            await call()
            timings[name].append(time.perf_counter() - started)
    return {name: _ms(values) for name, values in timings.items()}


async def measure_lag(
    dsn: str,
    pool: asyncpg.Pool,
    store: EventStore,
    ids: list[uuid.UUID],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    # The projector runs in its own process, as `casework projector` does in production.
    projector = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from starter import main; main()",
        "projector",
        cwd=str(ROOT),
        env={**os.environ, "DATABASE_URL": dsn, "CASEWORK_LOG_LEVEL": "WARNING"},
    )
    await asyncio.sleep(3.0)
    appended: dict[int, tuple[float, str, int]] = {}
    seen_timeline: dict[int, float] = {}
    seen_summary: dict[int, float] = {}
    rng = random.Random(3)
    meta = EventMetadata(actor_id="bench", actor_role="caseworker")
    done = asyncio.Event()

    async def appender() -> None:
        interval = 1.0 / rate
        next_at = time.perf_counter()
        end = next_at + seconds
        n = 0
        while time.perf_counter() < end:
            case_id = rng.choice(ids)
            stream = f"case-{case_id}"
            version = await store.stream_version(stream)
            n += 1
            data = ContactLogged(
                contact_id=f"bench-{n}",
                kind=ContactKind.PHONE,
                contact_date=datetime(2026, 3, 1).date(),
            )
            event = NewEvent(
                event_id=uuid.uuid4(),
                event_type=data.type,
                schema_version=data.schema_version,
                data=data.to_data(),
                metadata=meta,
                occurred_at=datetime.now(UTC),
            )
            try:
                result = await store.append(stream, version, [event])
            except Exception:  # a concurrent append to the same case: skip it
                continue
            appended[result.global_positions[0]] = (
                time.perf_counter(),
                str(case_id),
                result.last_version,
            )
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        done.set()

    async def watcher() -> None:
        while True:
            pending = [p for p in appended if p not in seen_timeline]
            if pending:
                rows = await pool.fetch(
                    "SELECT global_position FROM case_timeline WHERE global_position = ANY($1)",
                    pending,
                )
                now = time.perf_counter()
                for r in rows:
                    seen_timeline[r["global_position"]] = now
            waiting = [p for p in appended if p not in seen_summary]
            if waiting:
                rows = await pool.fetch(
                    """SELECT w.p FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS w(p, c, v)
                         JOIN case_summary cs ON cs.case_id = w.c AND cs.stream_version >= w.v""",
                    waiting,
                    [appended[p][1] for p in waiting],
                    [appended[p][2] for p in waiting],
                )
                now = time.perf_counter()
                for r in rows:
                    seen_summary[r["p"]] = now
            if done.is_set() and len(seen_timeline) == len(appended) == len(seen_summary):
                return
            await asyncio.sleep(0.002)

    await asyncio.wait_for(asyncio.gather(appender(), watcher()), seconds + 60)
    projector.send_signal(signal.SIGTERM)
    await projector.wait()
    timeline_lags = [seen_timeline[p] - appended[p][0] for p in appended]
    summary_lags = [seen_summary[p] - appended[p][0] for p in appended]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "appends": len(appended),
        "timeline": _ms(timeline_lags),
        "case_summary": _ms(summary_lags),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    cases = args.cases or (2_000 if args.quick else 100_000)
    server = _server()
    name = await create_database(server)
    dsn = with_database(server, name)
    try:
        await apply_migrations(dsn)
        pool = await create_pool(dsn, min_size=2, max_size=20)
        store = EventStore(pool)
        teams = _teams(cases)
        started = time.perf_counter()
        events, ids = await seed(store, cases, teams)
        seed_s = time.perf_counter() - started
        await pool.execute("ANALYZE")
        rebuilds = await measure_rebuilds(dsn, pool, store, events)
        await synthesize_reviews(pool, datetime(2026, 3, 1, tzinfo=UTC))
        latency = await measure_queries(pool, ids, teams, rounds=200 if args.quick else 500)
        lag = await measure_lag(
            dsn, pool, store, ids, rate=args.rate, seconds=5.0 if args.quick else 20.0
        )
        await pool.close()
        return {
            "benchmark": "projections",
            "quick": args.quick,
            "cases": cases,
            "events": events,
            "teams": len(teams),
            "seed_seconds": round(seed_s, 1),
            "rebuild": rebuilds,
            "queries": latency,
            "append_to_visible": lag,
            "targets": TARGETS,
        }
    finally:
        if args.keep:
            sys.stderr.write(f"kept database {dsn}\n")
        else:
            await drop_database(server, name)


def render(result: dict[str, Any]) -> str:
    lines = [
        f"projections benchmark: {result['cases']:,} cases, {result['events']:,} events, "
        f"{result['teams']} teams (seeded in {result['seed_seconds']} s)",
        "",
        "rebuild (events/s)      rebuild   ceiling   ratio",
    ]
    for row in result["rebuild"]["projections"]:
        lines.append(
            f"  {row['projection']:<20} {row['rebuild_events_per_s']:>8,} "
            f"{row['ceiling_events_per_s']:>9,}   {row['ratio']:.2f}"
        )
    r = result["rebuild"]
    lines.append(
        f"  {'all (sum of passes)':<20} {r['all_events_per_s']:>8,} "
        f"{r['ceiling_events_per_s']:>9,}   {r['ratio']:.2f}  (target >= 0.30)"
    )
    lines += ["", "queries                 p50 ms    p99 ms"]
    for name, q in result["queries"].items():
        lines.append(f"  {name:<20} {q['p50_ms']:>8.2f} {q['p99_ms']:>9.2f}")
    lag = result["append_to_visible"]
    lines += [
        "",
        f"append-to-visible at {lag['rate_per_s']}/s for {lag['seconds']} s "
        f"({lag['appends']} appends)       p50 ms    p99 ms",
    ]
    for name in ("timeline", "case_summary"):
        lines.append(f"  {name:<20} {lag[name]['p50_ms']:>8.2f} {lag[name]['p99_ms']:>9.2f}")
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 2,000 cases")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--cases", type=int, default=None, help="override the number of cases")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--rate", type=float, default=100.0, help="appends/s in the lag test")
    args = parser.parse_args()
    configure_logging(Settings(CASEWORK_LOG_LEVEL="WARNING"))
    result = asyncio.run(main(args))
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(render(result) + "\n")


if __name__ == "__main__":
    cli()
