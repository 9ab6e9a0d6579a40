"""Output shared by every command: `--json` for machines, Rich for people."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from casework.i18n import _
from infrastructure.environment import EnvironmentProblem

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print `data` as JSON, or hand it to `render` for people."""
    if as_json or render is None:
        sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")
    else:
        render(data)


class ExitCode(IntEnum):
    """How a command ended (documented in the README: scripts may rely on it)."""

    OK = 0
    REFUSED = 1
    """Refused or invalid: bad input, not permitted, not found, a conflict."""
    USAGE = 2
    """The command line itself was wrong (an unknown option, a missing argument)."""
    UNAVAILABLE = 3
    """The environment: a server could not be reached or answered with an outage (try
    again later), or will not start; a port is in use; the keys are not the data's."""
    NOT_SIGNED_IN = 4
    """No session, or it ended: `casework login`."""


def fail(
    message: str,
    as_json: bool = False,
    code: int = ExitCode.REFUSED,
    *,
    kind: str = "refused",
    field: str | None = None,
) -> NoReturn:
    """End the command: one readable line on stderr; with `--json`, exactly one JSON object
    on stdout, `{"ok": false, "error": {"code", "message", "field"}}`; a non-zero exit."""
    _report(message, as_json, kind, field)
    raise typer.Exit(code)


def _report(message: str, as_json: bool, kind: str, field: str | None) -> None:
    if as_json:
        error = {"code": kind, "message": message, "field": field}
        sys.stdout.write(json.dumps({"ok": False, "error": error}, ensure_ascii=False) + "\n")
    # soft_wrap: one line however narrow the terminal (or 80 columns when not one)
    label = escape(_("error:"))
    err_console.print(f"[bold red]{label}[/] {escape(message)}", highlight=False, soft_wrap=True)


def environment_failure(problem: EnvironmentProblem, as_json: bool) -> NoReturn:
    """How every command ends on a problem of its environment (infrastructure/environment.py:
    a port in use, a server that will not start or does not answer, keys that are not the
    data's): one line on stderr naming the cause and the setting to change, with `--json`
    the error object (code "environment", field the setting) on stdout, exit code 3, no
    traceback. starter.py `main` brings every such problem here, whichever command met it."""
    _report(problem.line(), as_json, "environment", problem.setting)
    raise SystemExit(ExitCode.UNAVAILABLE)  # also outside a command (no click context)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def stop_on_signals() -> asyncio.Event:
    """An event SIGINT or SIGTERM sets: the stop of a command that runs until stopped
    (call it inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
