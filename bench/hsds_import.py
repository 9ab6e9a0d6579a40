"""Importing the community's service directory (Open Referral HSDS 3.0) through the HTTP
API, against the same events appended straight through the event store.

    python bench/hsds_import.py [--quick | --smoke] [--json] [--services N]
    python -m bench.hsds_import …   (the same, as a module)

Everything is measured in one run on this machine, against one scratch database on the
PostgreSQL at DATABASE_URL or 127.0.0.1:5432 (created, migrated and dropped here; the
server itself is never stopped or reconfigured) and the HTTP API (uvicorn serving
`create_api`, what `casework serve` runs) in a process of its own
(bench/api.py `api_main`), as in production. No Temporal: the import needs none.

* **the package**: `directory.hsds.synthetic_package(N)`: N services (full 10,000,
  quick 2,000, smoke 200) under N/10 organizations, as one HSDS JSON document;
* **first import**: an admin, signed in over HTTP, POSTs the package to
  `/api/v1/directory/imports` (what `casework directory import FILE` sends): seconds,
  services/s, events appended, and the API's peak RSS during the import (VmHWM reset
  before it, psutil sampling beside it) and its growth;
* **no-op re-import**: the same bytes again: seconds; the report must say 0 added and
  0 changed (nothing written but the import's summary);
* **10 % changed**: a second version of the package with the first tenth of its services'
  descriptions changed: seconds; the report must name exactly N/10 changed;
* **baseline**: the events of the first import (planned here, in this process, from
  the same bytes against an empty directory: that planning is timed too) appended
  straight through `EventStore.append_domain`, in chunks of the import's size, to a
  stream of their own, before the import: events/s, and the ratio import/baseline
  (seconds): what reading, checking, planning, HTTP and the API add to the appends;
* **fold**: every process folds the resource directory (directory/service.py
  `load_resource_directory`, cached per event store): a fresh event store folding the
  directory after the imports, R times (the median), with its event count, and this
  process's RSS growth over the first fold (the directory held in memory).
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
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import httpx
import psutil
from rich.console import Console

from application.bootstrap import open_casework
from application.directory_import import CHUNK
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
from bench.lifecycle import bench_database, child_process, mib, ratio, server_facts
from directory import bootstrap_admin, load_resource_directory, resolve_actor
from directory.hsds import import_package, synthetic_package
from directory.resources import ResourceDirectory
from events.directory_events import PROVIDER_STREAM
from events.envelope import EventMetadata
from events.store import EventStore
from infrastructure.keys import master_keyring, origin_keyring
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from infrastructure.temporal import keyring

ADMIN = "root"
READY_TIMEOUT = 90.0
IMPORT_TIMEOUT = 1800.0
CHANGED_SHARE = 0.10
BASELINE_STREAM = "bench-hsds-baseline"
"""The baseline's appends go to a stream of their own: the import's stream stays as the
import leaves it."""
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sizes:
    services: int
    """Services in the package (N)."""
    folds: int
    """Folds of the directory by a fresh event store, measured; the median reported."""


SIZES = {
    "smoke": Sizes(services=200, folds=2),
    "quick": Sizes(services=2_000, folds=3),
    "full": Sizes(services=10_000, folds=5),
}


async def wait_ready(http: httpx.AsyncClient, check: Callable[[], None]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        check()
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/healthz")).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"the HTTP API was not ready within {READY_TIMEOUT:.0f} s")
        await asyncio.sleep(0.2)


async def post_package(
    http: httpx.AsyncClient, auth: dict[str, str], data: bytes, name: str
) -> tuple[float, dict[str, Any]]:
    """One import through the API: (seconds, the report)."""
    began = time.perf_counter()
    answer = await http.post(
        "/api/v1/directory/imports",
        params={"filename": name},
        content=data,
        headers={**auth, "Content-Type": "application/json"},
    )
    elapsed = time.perf_counter() - began
    report: dict[str, Any] = expect(answer, 201, f"importing {name}").json()
    return elapsed, report


def counts(report: dict[str, Any]) -> dict[str, int]:
    return {
        k: int(report[k])
        for k in ("added", "changed", "unchanged", "withdrawn", "refused", "events_written")
    }


async def baseline_appends(store: EventStore, events: list[Any]) -> float:
    """The planned events appended straight through the event store, in the import's
    chunks, to a stream of their own: seconds."""
    metadata = EventMetadata(actor_id=ADMIN, actor_role="admin")
    version = 0
    began = time.perf_counter()
    for start in range(0, len(events), CHUNK):
        chunk = events[start : start + CHUNK]
        await store.append_domain(
            BASELINE_STREAM,
            version,
            [(uuid.uuid4(), e) for e in chunk],
            metadata=metadata,
            occurred_at=NOW,
        )
        version += len(chunk)
    return time.perf_counter() - began


async def folds(pool: Any, rounds: int) -> dict[str, Any]:
    """The resource directory folded by a fresh event store (no cached fold), R times."""
    seconds: list[float] = []
    me = psutil.Process()
    rss_before = int(me.memory_info().rss)
    growth = 0
    services = providers = version = 0
    for n in range(rounds):
        store = EventStore(pool)
        began = time.perf_counter()
        directory = await load_resource_directory(store)
        seconds.append(time.perf_counter() - began)
        if n == 0:
            growth = max(0, int(me.memory_info().rss) - rss_before)
        version = directory.version
        listed = directory.listing(None, None)
        providers = len(listed)
        services = sum(len(p.services) for p in listed)
    median = statistics.median(seconds)
    # Where a fold's time goes: reading the rows, decoding them into events, applying.
    store = EventStore(pool)
    began = time.perf_counter()
    rows = await store.read_stream(PROVIDER_STREAM)
    read_s = time.perf_counter() - began
    began = time.perf_counter()
    decoded = [store.decode(row) for row in rows]
    decode_s = time.perf_counter() - began
    began = time.perf_counter()
    ResourceDirectory().fold(decoded)
    apply_s = time.perf_counter() - began
    return {
        "n": rounds,
        "read_seconds": round(read_s, 3),
        "decode_seconds": round(decode_s, 3),
        "apply_seconds": round(apply_s, 3),
        "events": version,
        "providers": providers,
        "services": services,
        "seconds_p50": round(median, 3),
        "seconds_max": round(max(seconds), 3),
        "events_per_s": round(version / median) if median else 0,
        "rss_growth_mib": mib(growth),
    }


async def measure(size: str, sizes: Sizes, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    password = secrets.token_urlsafe(18)
    n = sizes.services
    say(f"the packages: {n:,} services, and a second version with {CHANGED_SHARE:.0%} changed")
    first_bytes = synthetic_package(n)
    changed_bytes = synthetic_package(n, changed=CHANGED_SHARE)
    expected_changed = int(n * CHANGED_SHARE)
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        scratch = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-hsds-")))
        settings, env = bench_settings(dsn, scratch)
        # The development keys made before the API starts, so both processes share them.
        keyring(settings)
        master_keyring(settings)
        origin_keyring(settings)
        app = await exits.enter_async_context(open_casework(settings, dsn=dsn, pool_size=4))
        await bootstrap_admin(app.store, ADMIN, "Agency admin")
        await resolve_actor(app.store, ADMIN)
        await give_accounts(app, [ADMIN], password)

        say("baseline: planning the import here, then appending its events straight")
        base = str(settings.api_base_url).rstrip("/")
        planned_at = time.perf_counter()
        plan = import_package(
            first_bytes,
            await load_resource_directory(app.store),
            import_id="bench-baseline",
            channel_for=lambda p: f"{base}/portal/providers/{p}/inbox",
            max_unpacked=4 * len(first_bytes) + 1_000_000,
        )
        plan_s = time.perf_counter() - planned_at
        if len(plan.added) != n or plan.refusals:
            raise BenchError(
                f"the package planned {len(plan.added)} services and {len(plan.refusals)} "
                f"refusals, not {n} and none"
            )
        baseline_s = await baseline_appends(app.store, plan.events)

        say("starting the HTTP API (api_main, a process of its own)")
        child = await exits.enter_async_context(
            child_process("HTTP API", API_PROCESS, env, scratch / "api.log")
        )
        base_url = f"http://{settings.http_host}:{settings.http_port}"
        http = await exits.enter_async_context(
            httpx.AsyncClient(
                base_url=base_url, timeout=httpx.Timeout(IMPORT_TIMEOUT, connect=10),
                trust_env=False,
            )
        )  # fmt: skip
        await wait_ready(http, child.check)
        auth = await sign_in(http, ADMIN, password)

        say(f"first import: {n:,} services, {len(first_bytes) / 1e6:.1f} MB")
        phase = Phase(child.pid)
        phase.begin()
        sampler = RssSampler(child.pid)
        async with sampler.running():
            first_s, first = await post_package(http, auth, first_bytes, "directory-v1.json")
        memory = phase.end(sampler.peak, len(first_bytes))
        got = counts(first)
        if got["added"] != n or got["refused"] or got["events_written"] != len(plan.events):
            raise BenchError(f"the first import reported {got}, not {n} added")

        say("no-op re-import: the same bytes again")
        noop_s, noop = await post_package(http, auth, first_bytes, "directory-v1.json")
        again = counts(noop)
        if again["added"] or again["changed"] or again["unchanged"] != n:
            raise BenchError(f"the re-import reported {again}, not {n} unchanged")

        say(f"changed re-import: {expected_changed:,} services changed")
        changed_s, changed = await post_package(http, auth, changed_bytes, "directory-v2.json")
        edited = counts(changed)
        if edited["changed"] != expected_changed or edited["added"]:
            raise BenchError(f"the changed import reported {edited}, not {expected_changed}")
        child.check()

        say(f"folding the directory afresh, {sizes.folds} times")
        fold = await folds(app.pool, sizes.folds)
        if fold["services"] < n:
            raise BenchError(f"the folded directory lists {fold['services']} services, not {n}")
        stream_events = await app.store.stream_version(PROVIDER_STREAM)
        facts = await server_facts(app.pool)
        say("stopping the API, dropping the scratch database")

    events = len(plan.events)
    return {
        "benchmark": "hsds_import",
        "size": size,
        "sizes": {
            "services": n,
            "organizations": (n + 9) // 10,
            "package_bytes": len(first_bytes),
            "changed_share": CHANGED_SHARE,
            "chunk": CHUNK,
            "folds": sizes.folds,
        },
        "first_import": {
            "seconds": round(first_s, 3),
            "services_per_s": round(n / first_s) if first_s else 0,
            "events_appended": got["events_written"],
            "events_per_s": round(got["events_written"] / first_s) if first_s else 0,
            "added": got["added"],
            "api_peak_rss_mib": memory["peak_rss_mib"],
            "api_rss_growth_mib": memory["growth_mib"],
            "api_baseline_rss_mib": memory["baseline_rss_mib"],
        },
        "noop_reimport": {
            "seconds": round(noop_s, 3),
            "added": again["added"],
            "changed": again["changed"],
            "unchanged": again["unchanged"],
            "events_appended": again["events_written"],
        },
        "changed_reimport": {
            "seconds": round(changed_s, 3),
            "changed": edited["changed"],
            "unchanged": edited["unchanged"],
            "events_appended": edited["events_written"],
        },
        "baseline": {
            "events": events,
            "seconds": round(baseline_s, 3),
            "events_per_s": round(events / baseline_s) if baseline_s else 0,
            "plan_seconds_in_process": round(plan_s, 3),
        },
        "ratio": ratio(round(first_s, 3), round(baseline_s, 3)),
        "fold": fold,
        "stream_events": stream_events,
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
    s, first, b = f["sizes"], f["first_import"], f["baseline"]
    console.print(
        f"HSDS import of {s['services']:,} services ({s['package_bytes'] / 1e6:.1f} MB) "
        f"through the HTTP API"
    )
    console.print(
        f"  first import   {first['seconds']:>8.2f} s  {first['services_per_s']:>7,} services/s  "
        f"{first['events_appended']:,} events  API peak RSS {first['api_peak_rss_mib']} MiB "
        f"(+{first['api_rss_growth_mib']})"
    )
    console.print(f"  no-op import   {f['noop_reimport']['seconds']:>8.2f} s")
    console.print(
        f"  10 % changed   {f['changed_reimport']['seconds']:>8.2f} s  "
        f"{f['changed_reimport']['changed']:,} changed"
    )
    console.print(
        f"  baseline       {b['seconds']:>8.2f} s  {b['events_per_s']:>7,} events/s appended "
        f"straight (planning alone {b['plan_seconds_in_process']:.2f} s); ratio {f['ratio']}"
    )
    fold = f["fold"]
    console.print(
        f"  fold           {fold['seconds_p50']:>8.3f} s  {fold['events']:,} events, "
        f"{fold['services']:,} services, +{fold['rss_growth_mib']} MiB (read "
        f"{fold['read_seconds']} s, decode {fold['decode_seconds']} s, apply "
        f"{fold['apply_seconds']} s)"
    )
    console.print(f"{f['machine']['cpus']} CPUs; {f['seconds']} s in all")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.services is not None:
        sizes = replace(sizes, services=args.services)

    def say(message: str) -> None:
        sys.stderr.write(f"[hsds_import bench] {message}\n")
        sys.stderr.flush()

    f = await until_signalled(measure(size, sizes, say))
    report(Console(), f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="2,000 services: a minute or less",
        smoke="200 services: seconds (the test suite)",
    )
    parser.add_argument("--services", type=positive, default=None, help="services (N)")
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("hsds_import", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
