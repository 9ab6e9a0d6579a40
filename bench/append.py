"""Append throughput and latency of the event store against raw-insert ceilings.

    python bench/append.py [--quick | --smoke] [--json] [--writers N] [--rounds N]
    python -m bench.append …   (the same, as a module)

Everything is measured in one run against one scratch database (created, migrated
and dropped here; the server itself is never stopped or reconfigured):

* single-event appends through `EventStore.append`, one at a time on one
  connection, against raw single-row INSERT transactions (autocommit, one commit
  each) on a table of the same row shape with no constraints, indexes or triggers;
* the same with N concurrent writers on both sides;
* batched appends (100 events per `append`, round-robin over many streams) against
  raw asyncpg `executemany` in batches of 100 and COPY in batches of 1,000;
* p50/p99 latency of a single-event append against the raw single-row p99;
* diagnostics: the cost of a pool acquire/release (asyncpg sends a reset query on
  every release), single appends through a pool that skips that query, and
  `events/chain.py` verification of every chain the run wrote.

Measurements alternate between the store and its ceiling over several rounds, so
a noisy neighbour on the machine slows both sides rather than one. The server is
DATABASE_URL when set, else 127.0.0.1:5432, else an embedded one started here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import asyncpg
from rich.console import Console
from rich.table import Table

from bench.common import add_size_arguments, print_json, scratch_database, server_dsn, size_of
from events.chain import verify_chains
from events.envelope import EventMetadata, NewEvent
from events.store import EventStore
from events.vocabulary import (
    AssessmentRecorded,
    ContactKind,
    ContactLogged,
    Domain,
    DomainNeed,
    DomainRating,
    RiskLevel,
)
from infrastructure.database import create_pool
from infrastructure.embedded_postgres import EmbeddedPostgres, free_port, port_answers

BATCH = 100
COPY_BATCH = 1000

TARGET_BATCHED = 0.50
TARGET_SINGLE = 0.70
TARGET_P99 = 2.0


@dataclass(frozen=True)
class Sizes:
    rounds: int
    single: int
    """Single-event appends (and raw single-row transactions) per round."""
    concurrent: int
    """Single-event appends per writer per round, with `writers` writers."""
    batches: int
    """Batches of 100 per round (store and executemany)."""
    copies: int
    """COPY batches of 1,000 per round."""
    streams: int
    warmup: int


FULL = Sizes(
    rounds=6, single=4000, concurrent=1000, batches=300, copies=30, streams=500, warmup=300
)
QUICK = Sizes(
    rounds=4, single=2500, concurrent=600, batches=150, copies=20, streams=200, warmup=100
)
SMOKE = Sizes(rounds=1, single=40, concurrent=10, batches=2, copies=1, streams=8, warmup=10)
"""Seconds: every measurement and the chain verification, at the smallest sizes."""
SIZES = {"smoke": SMOKE, "quick": QUICK, "full": FULL}


# --- realistic event bodies ----------------------------------------------------------

METADATA = EventMetadata(
    actor_id="worker-17",
    actor_role="caseworker",
    correlation_id="bench-append",
    workflow_id="case-workflow",
    run_id="0192f3a4-6b7c-7d8e-9f00-112233445566",
)

_WORDS = " ".join(
    [
        "client attended appointment discussed housing application follow-up benefits",
        "landlord reference referral employment support family school transport budget",
        "medication counsellor agreed next steps phoned left message rescheduled visit",
        "documents provided rent arrears income statement childcare health worker",
    ]
).split()

_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _notes(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def contact_logged(rng: random.Random, n: int) -> ContactLogged:
    """A caseworker's contact note: the most frequent event in a case."""
    return ContactLogged(
        contact_id=f"contact-{n}",
        kind=rng.choice(list(ContactKind)),
        contact_date=date(2026, 1, 1) + timedelta(days=n % 300),
        duration_minutes=rng.randrange(5, 90),
        notes=_notes(rng, rng.randrange(20, 80)),
    )


def assessment_recorded(rng: random.Random, n: int) -> AssessmentRecorded:
    """A full needs assessment: the largest common event."""
    domains = rng.sample(list(Domain), 6)
    return AssessmentRecorded(
        assessment_id=f"assessment-{n}",
        domains={
            d: DomainRating(rating=rng.randrange(0, 5), notes=_notes(rng, 12)) for d in domains
        },
        strengths=[_notes(rng, 4) for _ in range(3)],
        resources=[_notes(rng, 3) for _ in range(2)],
        barriers=[_notes(rng, 5) for _ in range(2)],
        client_priorities=[_notes(rng, 4) for _ in range(2)],
        needs=[DomainNeed(domain=d, need=rng.choice(["low", "moderate", "high"])) for d in domains],
        risk_level=rng.choice(list(RiskLevel)),
        scoring_rules="standard-2026",
    )


def new_event(rng: random.Random, n: int) -> NewEvent:
    """Nine contact notes to one assessment, as in a case's working life."""
    body = assessment_recorded(rng, n) if n % 10 == 9 else contact_logged(rng, n)
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=body.type,
        schema_version=body.schema_version,
        data=body.to_data(),
        metadata=METADATA,
        occurred_at=_EPOCH + timedelta(seconds=n, microseconds=n % 1_000_000),
    )


def make_events(seed: int, count: int) -> list[NewEvent]:
    rng = random.Random(seed)
    return [new_event(rng, n) for n in range(count)]


# --- the raw ceiling: the same row shape, no constraints, indexes or triggers ---------

RAW_TABLE = """CREATE TABLE raw_events (
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8 DEFAULT pg_current_xact_id(),
    stream_id       text,
    stream_version  bigint,
    event_id        uuid,
    event_type      text,
    schema_version  integer,
    data            jsonb,
    metadata        jsonb,
    occurred_at     timestamptz,
    recorded_at     timestamptz DEFAULT clock_timestamp(),
    previous_hash   bytea,
    hash            bytea
)"""

RAW_COLUMNS = (
    "stream_id",
    "stream_version",
    "event_id",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "occurred_at",
    "previous_hash",
    "hash",
)

RAW_INSERT = f"""INSERT INTO raw_events ({", ".join(RAW_COLUMNS)})
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)"""

RawRow = tuple[str, int, uuid.UUID, str, int, str, str, datetime, bytes | None, bytes]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def raw_row(stream_id: str, version: int, event: NewEvent, previous: bytes | None) -> RawRow:
    data = _json(event.data)
    return (
        stream_id,
        version,
        event.event_id,
        event.event_type,
        event.schema_version,
        data,
        event.metadata.model_dump_json(),
        event.occurred_at,
        previous,
        hashlib.sha256(data.encode()).digest(),
    )


# --- measurements ---------------------------------------------------------------------


@dataclass
class Run:
    """Events written and seconds spent by one measured operation, over every round."""

    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Streams:
    """Many streams, each with the version the next append expects."""

    def __init__(self, prefix: str, count: int) -> None:
        self.ids = [f"{prefix}-{uuid.uuid4().hex[:10]}" for _ in range(count)]
        self.versions = dict.fromkeys(self.ids, 0)
        self._next = 0

    def take(self) -> str:
        stream_id = self.ids[self._next % len(self.ids)]
        self._next += 1
        return stream_id


async def skip_reset(conn: asyncpg.Connection) -> None:
    """A pool `reset` that sends nothing (asyncpg still rolls back an open transaction)."""


async def timed(run: Run, events: int, op: Callable[[], Awaitable[object]]) -> None:
    start = time.perf_counter()
    await op()
    elapsed = time.perf_counter() - start
    run.events += events
    run.seconds += elapsed
    run.latencies.append(elapsed)


async def store_single(store: EventStore, streams: Streams, events: list[NewEvent]) -> Run:
    run = Run()
    start = time.perf_counter()
    for event in events:
        stream_id = streams.take()
        expected = streams.versions[stream_id]
        t0 = time.perf_counter()
        await store.append(stream_id, expected, [event])
        run.latencies.append(time.perf_counter() - t0)
        streams.versions[stream_id] = expected + 1
    run.seconds = time.perf_counter() - start
    run.events = len(events)
    return run


async def raw_single(conn: asyncpg.Connection, streams: Streams, events: list[NewEvent]) -> Run:
    run = Run()
    start = time.perf_counter()
    for event in events:
        stream_id = streams.take()
        version = streams.versions[stream_id] + 1
        t0 = time.perf_counter()
        # Serialising the row is part of the cost, as it is inside append.
        await conn.execute(RAW_INSERT, *raw_row(stream_id, version, event, None))
        run.latencies.append(time.perf_counter() - t0)
        streams.versions[stream_id] = version
    run.seconds = time.perf_counter() - start
    run.events = len(events)
    return run


async def store_batched(store: EventStore, streams: Streams, events: list[NewEvent]) -> Run:
    run = Run()
    start = time.perf_counter()
    for i in range(0, len(events), BATCH):
        batch = events[i : i + BATCH]
        stream_id = streams.take()
        expected = streams.versions[stream_id]
        t0 = time.perf_counter()
        await store.append(stream_id, expected, batch)
        run.latencies.append(time.perf_counter() - t0)
        streams.versions[stream_id] = expected + len(batch)
    run.seconds = time.perf_counter() - start
    run.events = len(events)
    return run


def raw_batch(streams: Streams, batch: list[NewEvent]) -> list[RawRow]:
    stream_id = streams.take()
    first = streams.versions[stream_id] + 1
    streams.versions[stream_id] = first + len(batch) - 1
    return [raw_row(stream_id, first + j, e, None) for j, e in enumerate(batch)]


async def raw_executemany(
    conn: asyncpg.Connection, streams: Streams, events: list[NewEvent]
) -> Run:
    run = Run()
    start = time.perf_counter()
    for i in range(0, len(events), BATCH):
        t0 = time.perf_counter()
        rows = raw_batch(streams, events[i : i + BATCH])
        await conn.executemany(RAW_INSERT, rows)  # one transaction per call
        run.latencies.append(time.perf_counter() - t0)
    run.seconds = time.perf_counter() - start
    run.events = len(events)
    return run


async def raw_copy(conn: asyncpg.Connection, streams: Streams, events: list[NewEvent]) -> Run:
    run = Run()
    start = time.perf_counter()
    for i in range(0, len(events), COPY_BATCH):
        t0 = time.perf_counter()
        rows = raw_batch(streams, events[i : i + COPY_BATCH])
        await conn.copy_records_to_table("raw_events", records=rows, columns=RAW_COLUMNS)
        run.latencies.append(time.perf_counter() - t0)
    run.seconds = time.perf_counter() - start
    run.events = len(events)
    return run


async def concurrently(work: Sequence[Awaitable[Run]]) -> Run:
    """Run writers at once; the rate is over the wall-clock time of all of them."""
    start = time.perf_counter()
    runs = await asyncio.gather(*work)
    total = Run(seconds=time.perf_counter() - start)
    for r in runs:
        total.events += r.events
        total.latencies.extend(r.latencies)
    return total


def merge(into: Run, run: Run) -> None:
    into.events += run.events
    into.seconds += run.seconds
    into.latencies.extend(run.latencies)


# --- the server and the scratch database ----------------------------------------------


@contextlib.contextmanager
def server() -> Iterator[str]:
    if os.environ.get("DATABASE_URL") or port_answers("127.0.0.1", 5432):
        yield server_dsn()
        return
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as scratch:
        embedded = EmbeddedPostgres(Path(scratch) / "pg", free_port())
        embedded.start()
        try:
            yield embedded.dsn
        finally:
            embedded.stop()


@contextlib.asynccontextmanager
async def bench_database(server: str) -> AsyncIterator[str]:
    """A scratch database, migrated, with the raw ceiling's table."""
    async with scratch_database(server) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(RAW_TABLE)
        finally:
            await conn.close()
        yield dsn


# --- the run --------------------------------------------------------------------------


@dataclass
class Results:
    single: Run = field(default_factory=Run)
    raw_single: Run = field(default_factory=Run)
    single_no_reset: Run = field(default_factory=Run)
    """Diagnostic: single appends through a pool whose release sends no reset query."""
    concurrent: Run = field(default_factory=Run)
    raw_concurrent: Run = field(default_factory=Run)
    batched: Run = field(default_factory=Run)
    raw_executemany: Run = field(default_factory=Run)
    raw_copy: Run = field(default_factory=Run)
    pool_roundtrip: Run = field(default_factory=Run)
    """Diagnostic: `pool.fetchval("SELECT 1")` against the same on a bare connection."""
    bare_roundtrip: Run = field(default_factory=Run)
    verified_events: int = 0
    chain_findings: int = 0


async def measure(dsn: str, sizes: Sizes, writers: int, say: Callable[[str], None]) -> Results:
    results = Results()
    per_round = sizes.single + writers * sizes.concurrent + sizes.batches * BATCH
    pool_one = await create_pool(dsn, min_size=1, max_size=1)
    pool_many = await create_pool(dsn, min_size=writers, max_size=writers)
    pool_no_reset = await asyncpg.create_pool(dsn, min_size=1, max_size=1, reset=skip_reset)
    raw_conns = [await asyncpg.connect(dsn) for _ in range(writers)]
    try:
        store_one = EventStore(pool_one)
        store_many = EventStore(pool_many)
        store_no_reset = EventStore(pool_no_reset)
        say("warming up")
        warm = make_events(0, sizes.warmup)
        await store_single(store_one, Streams("warm", 10), warm)
        await raw_single(raw_conns[0], Streams("warm", 10), warm)
        await store_single(store_no_reset, Streams("warm", 10), make_events(3, sizes.warmup))
        warm_batched = BATCH * min(3, sizes.batches)
        await store_batched(store_one, Streams("warm", 10), make_events(1, warm_batched))
        await raw_executemany(raw_conns[0], Streams("warm", 10), make_events(2, warm_batched))

        for r in range(sizes.rounds):
            say(f"round {r + 1}/{sizes.rounds}: preparing {per_round:,} events")
            seed = 1000 * (r + 1)
            single = make_events(seed, sizes.single)
            conc = [make_events(seed + 1 + w, sizes.concurrent) for w in range(writers)]
            batched = make_events(seed + 100, sizes.batches * BATCH)
            copied = make_events(seed + 200, sizes.copies * COPY_BATCH)
            unreset = make_events(seed + 300, sizes.single)
            store_streams = Streams(f"case-r{r}", sizes.streams)
            raw_streams = Streams(f"raw-r{r}", sizes.streams)

            say(f"round {r + 1}: single-event appends, serial")
            merge(results.raw_single, await raw_single(raw_conns[0], raw_streams, single))
            merge(results.single, await store_single(store_one, store_streams, single))
            merge(
                results.single_no_reset,
                await store_single(store_no_reset, Streams(f"nr{r}", sizes.streams), unreset),
            )

            say(f"round {r + 1}: single-event appends, {writers} writers")
            store_work = [
                store_single(store_many, Streams(f"c{r}w{w}", 50), conc[w]) for w in range(writers)
            ]
            merge(results.concurrent, await concurrently(store_work))
            raw_work = [
                raw_single(raw_conns[w], Streams(f"rc{r}w{w}", 50), conc[w]) for w in range(writers)
            ]
            merge(results.raw_concurrent, await concurrently(raw_work))

            say(f"round {r + 1}: batches of {BATCH}")
            merge(results.batched, await store_batched(store_one, store_streams, batched))
            merge(
                results.raw_executemany,
                await raw_executemany(raw_conns[0], raw_streams, batched),
            )
            merge(results.raw_copy, await raw_copy(raw_conns[0], raw_streams, copied))

            say(f"round {r + 1}: round trips, through the pool and on a bare connection")
            for _ in range(sizes.single // 4):
                await timed(results.pool_roundtrip, 1, lambda: pool_one.fetchval("SELECT 1"))
                await timed(results.bare_roundtrip, 1, lambda: raw_conns[0].fetchval("SELECT 1"))

        say("verifying every hash chain written (not timed)")
        async with pool_one.acquire() as conn:
            verified = await verify_chains(conn)
        results.verified_events = verified.events
        results.chain_findings = len(verified.findings)
    finally:
        for conn in raw_conns:
            await conn.close()
        await pool_one.close()
        await pool_many.close()
        await pool_no_reset.close()
    return results


async def server_facts(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT name, setting FROM pg_settings WHERE name IN
               ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers',
                'commit_delay', 'full_page_writes', 'server_version')"""
        )
        return {r["name"]: r["setting"] for r in rows}
    finally:
        await conn.close()


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def figures(results: Results, writers: int, sizes: Sizes, facts: dict[str, str]) -> dict[str, Any]:
    ms = 1000.0
    r = results
    single_ratio = ratio(r.single.rate, r.raw_single.rate)
    p99_ratio = ratio(r.single.quantile(0.99), r.raw_single.quantile(0.99))
    batched_ratio = ratio(r.batched.rate, r.raw_executemany.rate)
    return {
        "single_events_per_s": round(r.single.rate, 1),
        "raw_single_tx_per_s": round(r.raw_single.rate, 1),
        "single_ratio": single_ratio,
        "single_p50_ms": round(r.single.quantile(0.50) * ms, 3),
        "single_p99_ms": round(r.single.quantile(0.99) * ms, 3),
        "raw_single_p50_ms": round(r.raw_single.quantile(0.50) * ms, 3),
        "raw_single_p99_ms": round(r.raw_single.quantile(0.99) * ms, 3),
        "single_p99_ratio": p99_ratio,
        "writers": writers,
        "concurrent_events_per_s": round(r.concurrent.rate, 1),
        "raw_concurrent_tx_per_s": round(r.raw_concurrent.rate, 1),
        "concurrent_ratio": ratio(r.concurrent.rate, r.raw_concurrent.rate),
        "concurrent_p99_ms": round(r.concurrent.quantile(0.99) * ms, 3),
        "raw_concurrent_p99_ms": round(r.raw_concurrent.quantile(0.99) * ms, 3),
        "batch_size": BATCH,
        "batched_events_per_s": round(r.batched.rate, 1),
        "raw_executemany_rows_per_s": round(r.raw_executemany.rate, 1),
        "batched_ratio": batched_ratio,
        "batched_p50_ms": round(r.batched.quantile(0.50) * ms, 3),
        "batched_p99_ms": round(r.batched.quantile(0.99) * ms, 3),
        "copy_batch_size": COPY_BATCH,
        "raw_copy_rows_per_s": round(r.raw_copy.rate, 1),
        "batched_to_copy_ratio": ratio(r.batched.rate, r.raw_copy.rate),
        "single_no_reset_events_per_s": round(r.single_no_reset.rate, 1),
        "single_no_reset_ratio": ratio(r.single_no_reset.rate, r.raw_single.rate),
        "single_no_reset_p50_ms": round(r.single_no_reset.quantile(0.50) * ms, 3),
        "single_no_reset_p99_ms": round(r.single_no_reset.quantile(0.99) * ms, 3),
        "single_no_reset_p99_ratio": ratio(
            r.single_no_reset.quantile(0.99), r.raw_single.quantile(0.99)
        ),
        "pool_roundtrip_p50_ms": round(r.pool_roundtrip.quantile(0.50) * ms, 3),
        "bare_roundtrip_p50_ms": round(r.bare_roundtrip.quantile(0.50) * ms, 3),
        "pool_overhead_p50_ms": round(
            (r.pool_roundtrip.quantile(0.50) - r.bare_roundtrip.quantile(0.50)) * ms, 3
        ),
        "chains_verified_events": r.verified_events,
        "chain_findings": r.chain_findings,
        "targets": {
            "batched_ratio_min": TARGET_BATCHED,
            "single_ratio_min": TARGET_SINGLE,
            "single_p99_ratio_max": TARGET_P99,
            "batched_met": batched_ratio >= TARGET_BATCHED,
            "single_met": single_ratio >= TARGET_SINGLE,
            "p99_met": p99_ratio <= TARGET_P99,
        },
        "events": {
            "single": r.single.events,
            "concurrent": r.concurrent.events,
            "batched": r.batched.events,
            "copy": r.raw_copy.events,
            "rounds": sizes.rounds,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": facts,
        },
    }


def report(console: Console, f: dict[str, Any]) -> None:
    t = f["targets"]

    def verdict(ok: bool) -> str:
        return "[green]met[/]" if ok else "[red]missed[/]"

    table = Table(title="EventStore.append against raw inserts (same database, same run)")
    table.add_column("measurement")
    table.add_column("events/s", justify="right")
    table.add_column("ceiling")
    table.add_column("ceiling rows/s", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_row(
        "single-event append, serial",
        f"{f['single_events_per_s']:,.0f}",
        "raw 1-row INSERT transactions",
        f"{f['raw_single_tx_per_s']:,.0f}",
        f"{f['single_ratio']:.0%}",
        f">= {TARGET_SINGLE:.0%} {verdict(t['single_met'])}",
    )
    table.add_row(
        "[dim]diagnostic: single, pool without reset query[/]",
        f"{f['single_no_reset_events_per_s']:,.0f}",
        "raw 1-row INSERT transactions",
        f"{f['raw_single_tx_per_s']:,.0f}",
        f"{f['single_no_reset_ratio']:.0%}",
        "",
    )
    table.add_row(
        f"single-event append, {f['writers']} writers",
        f"{f['concurrent_events_per_s']:,.0f}",
        f"raw 1-row INSERT, {f['writers']} writers",
        f"{f['raw_concurrent_tx_per_s']:,.0f}",
        f"{f['concurrent_ratio']:.0%}",
        "",
    )
    table.add_row(
        f"batched append ({BATCH}/append)",
        f"{f['batched_events_per_s']:,.0f}",
        f"raw executemany, batches of {BATCH}",
        f"{f['raw_executemany_rows_per_s']:,.0f}",
        f"{f['batched_ratio']:.0%}",
        f">= {TARGET_BATCHED:.0%} {verdict(t['batched_met'])}",
    )
    table.add_row(
        f"batched append ({BATCH}/append)",
        f"{f['batched_events_per_s']:,.0f}",
        f"raw COPY, batches of {COPY_BATCH:,}",
        f"{f['raw_copy_rows_per_s']:,.0f}",
        f"{f['batched_to_copy_ratio']:.0%}",
        "",
    )
    console.print(table)

    lat = Table(title="Latency (ms)")
    lat.add_column("operation")
    lat.add_column("p50", justify="right")
    lat.add_column("p99", justify="right")
    lat.add_column("p99 / raw p99", justify="right")
    lat.add_column("target")
    lat.add_row(
        "single-event append",
        f"{f['single_p50_ms']:.2f}",
        f"{f['single_p99_ms']:.2f}",
        f"{f['single_p99_ratio']:.2f}",
        f"<= {TARGET_P99:.0f}x {verdict(t['p99_met'])}",
    )
    lat.add_row(
        "raw 1-row INSERT transaction",
        f"{f['raw_single_p50_ms']:.2f}",
        f"{f['raw_single_p99_ms']:.2f}",
        "",
        "",
    )
    lat.add_row(
        "[dim]diagnostic: single, pool without reset query[/]",
        f"{f['single_no_reset_p50_ms']:.2f}",
        f"{f['single_no_reset_p99_ms']:.2f}",
        f"{f['single_no_reset_p99_ratio']:.2f}",
        "",
    )
    lat.add_row(
        f"single-event append, {f['writers']} writers",
        "",
        f"{f['concurrent_p99_ms']:.2f}",
        f"{ratio(f['concurrent_p99_ms'], f['raw_concurrent_p99_ms']):.2f}",
        "",
    )
    lat.add_row(
        f"batched append ({BATCH} events)",
        f"{f['batched_p50_ms']:.2f}",
        f"{f['batched_p99_ms']:.2f}",
        "",
        "",
    )
    lat.add_row(
        "SELECT 1 through the pool (acquire, query, release)",
        f"{f['pool_roundtrip_p50_ms']:.2f}",
        "",
        "",
        "",
    )
    lat.add_row("SELECT 1 on a bare connection", f"{f['bare_roundtrip_p50_ms']:.2f}", "", "", "")
    console.print(lat)
    chains = (
        "[green]all hash chains verify[/]"
        if f["chain_findings"] == 0
        else f"[red]{f['chain_findings']} broken hash chains[/]"
    )
    console.print(f"{chains} ({f['chains_verified_events']:,} events checked by events/chain.py)")
    pg = f["machine"]["postgres"]
    console.print(
        f"{f['machine']['cpus']} CPUs; PostgreSQL {pg.get('server_version')}, "
        f"fsync={pg.get('fsync')}, synchronous_commit={pg.get('synchronous_commit')}, "
        f"wal_sync_method={pg.get('wal_sync_method')}; "
        f"{f['events']['rounds']} rounds, {f['events']['single']:,} single, "
        f"{f['events']['batched']:,} batched events"
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.rounds:
        sizes = Sizes(**{**sizes.__dict__, "rounds": args.rounds})
    console = Console(width=120)
    progress = Console(stderr=True)

    def say(message: str) -> None:
        progress.log(message)

    with server() as server_url:
        async with bench_database(server_url) as dsn:
            facts = await server_facts(dsn)
            results = await measure(dsn, sizes, args.writers, say)
    f = {"benchmark": "append", "size": size, **figures(results, args.writers, sizes, facts)}
    report(console, f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser, quick="small sizes, about 40 seconds", smoke="tiny sizes, a few seconds"
    )
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers (default 4)")
    parser.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    args = parser.parse_args()
    f = asyncio.run(main_async(args))
    if args.json:
        print_json(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
