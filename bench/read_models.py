"""Benchmark of the read models: rebuild rate, query latency, append-to-visible lag.

    .venv/bin/python bench/read_models.py --quick        # ~2,000 cases, about a minute
    .venv/bin/python bench/read_models.py                # 100,000 cases, ~2M events
    .venv/bin/python bench/read_models.py --quick --json
    .venv/bin/python bench/read_models.py --smoke --json # 24 cases, seconds (the test suite)
    .venv/bin/python -m bench.read_models …              # the same, as a module

Seeds cases through the event store (valid lifecycles, ~20 events a case, appended
by concurrent writers) into a database of its own on the server at DATABASE_URL
(else 127.0.0.1:5432), then measures in one run:

* rebuild rate of every projection (events/s) against a raw ceiling: reading the
  same rows with the same batches and doing the same number of single-row writes
  (one per handled event) in the same per-batch transactions, with no logic;
* p50/p99 latency of the caseload (a supervisor's team, a caseworker's own), overdue
  reviews and case-timeline queries. Besides the lifecycles' own review events, every
  case left open and not on hold gets one more `ReviewScheduled` in its stream (due
  within ±60 days of the queries' "now"), so the overdue query has rows to find: the
  read models hold only what the projections made of the log;
* lag from append (commit acknowledged) to visibility in the read models (the case
  timeline row, and the case summary's stream version) under a steady append load,
  with `casework projector` running in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import asyncpg

from bench.common import ROOT, add_size_arguments, print_json, scratch_database, server_dsn, size_of
from cases.actors import Actor, Role
from devtools.simulation import RandomChooser, simulate_case
from events.envelope import EventMetadata, NewEvent
from events.store import START, EventStore, GlobalCursor
from events.vocabulary import ContactKind, ContactLogged, ReviewReason, ReviewScheduled, RiskLevel
from infrastructure.database import create_pool
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from projections import queries
from projections.base import Projection
from projections.catalog import all_projections
from projections.rebuild import rebuild


@dataclass(frozen=True)
class Sizes:
    cases: int
    query_rounds: int
    lag_seconds: float
    lag_rate: float
    """Appends per second during the lag test."""


SIZES = {
    "smoke": Sizes(cases=24, query_rounds=5, lag_seconds=1.0, lag_rate=20.0),
    "quick": Sizes(cases=2_000, query_rounds=200, lag_seconds=5.0, lag_rate=100.0),
    "full": Sizes(cases=100_000, query_rounds=500, lag_seconds=20.0, lag_rate=100.0),
}

NOW = datetime(2026, 3, 1, tzinfo=UTC)
"""The queries' "now"; the seeded reviews fall due within ±60 days of it."""

PROJECTOR_READY_TIMEOUT = 120.0
"""Seconds for `casework projector` to start and make a probe event visible."""
PROJECTOR_STOP_GRACE = 15.0

TARGETS = {
    "rebuild_vs_ceiling": 0.30,
    "caseload_p99_ms": 10.0,
    "overdue_p99_ms": 10.0,
    "append_to_visible_p99_ms": 200.0,
}


def _teams(cases: int) -> dict[str, tuple[str, ...]]:
    """About 8 workers a team and 50 cases a worker, as in an agency."""
    count = max(2, cases // 400)
    return {f"team-{t:03d}": tuple(f"worker-{t:03d}-{w}" for w in range(8)) for t in range(count)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "n": 0}
    return {
        "p50_ms": round(_pct(values, 0.50) * 1000, 3),
        "p99_ms": round(_pct(values, 0.99) * 1000, 3),
        "n": len(values),
    }


def review_for(rng: random.Random, events: list[NewEvent], now: datetime = NOW) -> NewEvent | None:
    """One more `ReviewScheduled` for a case its lifecycle left open and not on hold.

    Due within ±60 days of `now` (never before the event itself), as the engine would
    schedule it after the case's last event; a closed or held case gets none (the
    engine schedules no review for either).
    """
    open_, held = True, False
    for event in events:
        match event.event_type:
            case "CaseClosed":
                open_, held = False, False
            case "CaseReopened":
                open_ = True
            case "CaseOnHold":
                held = True
            case "CaseResumed":
                held = False
    if not open_ or held:
        return None
    at = events[-1].occurred_at + timedelta(hours=1)
    due = now + timedelta(days=rng.randint(-60, 60), hours=rng.randint(0, 23))
    if due <= at:
        due = at + timedelta(days=rng.randint(7, 120))
    review = ReviewScheduled(
        due_at=due,
        reason=ReviewReason.ASSESSED,
        risk_level=rng.choice(list(RiskLevel)),
        policy_version=1,
    )
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=review.type,
        schema_version=review.schema_version,
        data=review.to_data(),
        metadata=EventMetadata(actor_id="casework", actor_role="system", correlation_id="bench"),
        occurred_at=at,
    )


async def seed(
    store: EventStore, cases: int, teams: dict[str, tuple[str, ...]], writers: int = 16
) -> tuple[int, int, list[uuid.UUID]]:
    """Append `cases` lifecycles; returns events appended, reviews added, case ids."""
    rng = random.Random(20260105)
    reviews_rng = random.Random(20260301)
    queue: asyncio.Queue[tuple[uuid.UUID, list[NewEvent]] | None] = asyncio.Queue(maxsize=256)
    ids: list[uuid.UUID] = []
    total = reviews = 0

    async def produce() -> None:
        nonlocal reviews
        chooser = RandomChooser(rng)
        start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        for i in range(cases):
            case_id, events = simulate_case(
                chooser,
                steps=rng.randint(10, 28),
                start=start + timedelta(minutes=7 * i),
                teams=teams,
            )
            review = review_for(reviews_rng, events)
            if review is not None:
                events.append(review)
                reviews += 1
            await queue.put((case_id, events))
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
    return total, reviews, ids


def _per_s(events: int, seconds: float) -> int:
    return round(events / seconds) if seconds else 0


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
                "rebuild_events_per_s": _per_s(result.events, result.seconds),
                "ceiling_s": round(raw, 3),
                "ceiling_events_per_s": _per_s(result.events, raw),
                "ratio": round(raw / result.seconds, 3) if result.seconds else 0.0,
            }
        )
    return {
        "projections": rows,
        "all_events_per_s": _per_s(events * len(rows), total_rebuild),
        "ceiling_events_per_s": _per_s(events * len(rows), total_ceiling),
        "ratio": round(total_ceiling / total_rebuild, 3) if total_rebuild else 0.0,
    }


async def measure_queries(
    pool: asyncpg.Pool, ids: list[uuid.UUID], teams: dict[str, tuple[str, ...]], rounds: int
) -> dict[str, Any]:
    rng = random.Random(7)
    team_names = sorted(teams)
    manager = Actor(staff_id="manager-1", role=Role.MANAGER)
    names = ("caseload_team", "caseload_worker", "overdue_team", "timeline")
    timings: dict[str, list[float]] = {name: [] for name in names}
    rows: dict[str, int] = dict.fromkeys(names, 0)
    for _ in range(rounds):
        team = rng.choice(team_names)
        supervisor = Actor(staff_id=f"super-{team}", role=Role.SUPERVISOR, team=team)
        worker = Actor(staff_id=rng.choice(teams[team]), role=Role.CASEWORKER, team=team)
        calls: list[tuple[str, Callable[[], Awaitable[list[Any]]]]] = [
            ("caseload_team", partial(queries.caseload, pool, supervisor, now=NOW)),
            ("caseload_worker", partial(queries.caseload, pool, worker, now=NOW)),
            (
                "overdue_team",
                partial(queries.reviews, pool, supervisor, overdue_only=True, now=NOW),
            ),
            ("timeline", partial(queries.timeline, pool, manager, rng.choice(ids))),
        ]
        for name, call in calls:
            started = time.perf_counter()
            found = await call()
            timings[name].append(time.perf_counter() - started)
            rows[name] += len(found)
    return {name: {**_ms(values), "rows": rows[name]} for name, values in timings.items()}


def contact_event(n: int) -> NewEvent:
    data = ContactLogged(contact_id=f"bench-{n}", kind=ContactKind.PHONE, contact_date=NOW.date())
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=data.type,
        schema_version=data.schema_version,
        data=data.to_data(),
        metadata=EventMetadata(actor_id="bench", actor_role="caseworker"),
        occurred_at=datetime.now(UTC),
    )


class ProjectorExited(RuntimeError):
    """`casework projector` stopped before the bench stopped it."""


@contextlib.asynccontextmanager
async def projector_process(dsn: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`casework projector` in its own process (its output to stderr); stopped on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from starter import main; main()",
        "projector",
        cwd=str(ROOT),
        env={**os.environ, "DATABASE_URL": dsn, "CASEWORK_LOG_LEVEL": "WARNING"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=sys.stderr.fileno(),
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), PROJECTOR_STOP_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def until_projected(
    pool: asyncpg.Pool, store: EventStore, case_id: uuid.UUID, projector: Any
) -> float:
    """Append a probe event and wait until the projector shows it; seconds it took."""
    stream = f"case-{case_id}"
    started = time.perf_counter()
    result = await store.append(stream, await store.stream_version(stream), [contact_event(0)])
    position = result.global_positions[0]
    deadline = started + PROJECTOR_READY_TIMEOUT
    while time.perf_counter() < deadline:
        if projector.returncode is not None:
            raise ProjectorExited(f"the projector exited with code {projector.returncode}")
        if await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM case_timeline WHERE global_position = $1)", position
        ):
            return time.perf_counter() - started
        await asyncio.sleep(0.02)
    raise TimeoutError(
        f"the projector did not show a probe event within {PROJECTOR_READY_TIMEOUT:.0f} s"
    )


async def measure_lag(
    dsn: str,
    pool: asyncpg.Pool,
    store: EventStore,
    ids: list[uuid.UUID],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    # The projector runs in its own process, as `casework projector` does in production.
    async with projector_process(dsn) as projector:
        ready_s = await until_projected(pool, store, ids[0], projector)
        appended: dict[int, tuple[float, str, int]] = {}
        seen_timeline: dict[int, float] = {}
        seen_summary: dict[int, float] = {}
        rng = random.Random(3)
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
                try:
                    result = await store.append(stream, version, [contact_event(n)])
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
                if projector.returncode is not None:
                    raise ProjectorExited(f"the projector exited with code {projector.returncode}")
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
                        """SELECT w.p
                             FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS w(p, c, v)
                             JOIN case_summary cs
                               ON cs.case_id = w.c AND cs.stream_version >= w.v""",
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

        await asyncio.wait_for(
            asyncio.gather(appender(), watcher()), seconds + PROJECTOR_READY_TIMEOUT
        )
    timeline_lags = [seen_timeline[p] - appended[p][0] for p in appended]
    summary_lags = [seen_summary[p] - appended[p][0] for p in appended]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "appends": len(appended),
        "projector_ready_s": round(ready_s, 2),
        "timeline": _ms(timeline_lags),
        "case_summary": _ms(summary_lags),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    cases = args.cases or sizes.cases
    rate = args.rate or sizes.lag_rate
    async with scratch_database(server_dsn(), keep=args.keep) as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=20)
        try:
            store = EventStore(pool)
            teams = _teams(cases)
            started = time.perf_counter()
            events, reviews, ids = await seed(store, cases, teams)
            seed_s = time.perf_counter() - started
            await pool.execute("ANALYZE")
            rebuilds = await measure_rebuilds(dsn, pool, store, events)
            await pool.execute("ANALYZE")
            latency = await measure_queries(pool, ids, teams, rounds=sizes.query_rounds)
            lag = await measure_lag(dsn, pool, store, ids, rate=rate, seconds=sizes.lag_seconds)
        finally:
            await pool.close()
    return {
        "benchmark": "read_models",
        "size": size,
        "quick": size == "quick",
        "cases": cases,
        "events": events,
        "reviews_added": reviews,
        "teams": len(teams),
        "seed_seconds": round(seed_s, 1),
        "rebuild": rebuilds,
        "queries": latency,
        "append_to_visible": lag,
        "targets": TARGETS,
    }


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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    add_size_arguments(
        parser, quick="about 2,000 cases, a minute", smoke="24 cases, seconds (for the tests)"
    )
    parser.add_argument("--cases", type=int, default=None, help="override the number of cases")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--rate", type=float, default=None, help="appends/s in the lag test (default 100)"
    )
    args = parser.parse_args()
    configure_logging(Settings(CASEWORK_LOG_LEVEL="WARNING"))
    result = asyncio.run(main(args))
    if args.json:
        print_json(result)
    else:
        sys.stdout.write(render(result) + "\n")


if __name__ == "__main__":
    cli()
