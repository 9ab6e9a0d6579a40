"""What the benchmarks share: the repo root on sys.path, sizes, scratch databases, JSON.

Every bench runs three ways, from the repo root:

    .venv/bin/python bench/NAME.py --quick --json     # as a script
    .venv/bin/python -m bench.NAME --quick --json     # as a module
    make bench                                        # every bench, --quick --json

Run as a script, Python puts bench/ (not the repo root) first on sys.path, so each
bench begins with the same line, before any import of the project:

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

which puts the repo root ahead of bench/ (harmless when run as a module, where the
root is on sys.path already). bench/ stays on sys.path, ahead of the standard library
and site-packages, so no module in bench/ may take the name of anything else
importable: a package or module of the project (`projections`, `events`, `tests`…),
of the standard library or of an installed package (tests/test_benches.py checks).

Sizes: `--smoke` (seconds: the smallest sizes that still run every code path and
print the same JSON shape; what the test suite runs), `--quick` (a minute or a few)
and the full size (no flag).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from rich.console import Console

from application.migrations import apply_migrations
from infrastructure.keys import allow_development_keys

allow_development_keys()  # benches run the engine on scratch data, as the embedded stack does

ROOT = Path(__file__).resolve().parents[1]

Size = Literal["smoke", "quick", "full"]

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


T = TypeVar("T")


def add_size_arguments(parser: argparse.ArgumentParser, *, quick: str, smoke: str) -> None:
    """--quick / --smoke (one or neither) and --json."""
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help=quick)
    sizes.add_argument("--smoke", action="store_true", help=smoke)
    parser.add_argument("--json", action="store_true", help="figures as JSON on the last line")


def size_of(args: argparse.Namespace) -> Size:
    if args.smoke:
        return "smoke"
    return "quick" if args.quick else "full"


def server_dsn() -> str:
    """The PostgreSQL server benches create their scratch databases on."""
    return os.environ.get("DATABASE_URL") or DEFAULT_SERVER


def with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


@contextlib.asynccontextmanager
async def scratch_database(server: str, *, keep: bool = False) -> AsyncIterator[str]:
    """A new database on `server` with every migration applied; dropped (WITH FORCE) on
    exit unless `keep`. The server itself is never stopped or reconfigured."""
    name = f"casework_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = with_database(server, name)
    try:
        await apply_migrations(dsn)
        yield dsn
    finally:
        if keep:
            sys.stderr.write(f"kept database {dsn}\n")
        else:
            conn = await asyncpg.connect(server)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


def print_json(figures: dict[str, Any]) -> None:
    """The figures as one JSON object on the last line of stdout."""
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()


# --- running a bench: signals, failures, the JSON -------------------------------------------


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the run (everything started was stopped)."""


def positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return number


async def until_signalled(work: Awaitable[T]) -> T:
    """Await `work`; SIGINT or SIGTERM cancels it, and surfaces as Interrupted (the
    cancellation may come out as another error, a Temporal client's say: it is ours)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    stopped: list[int] = []

    def stop(signum: int) -> None:
        stopped.append(signum)
        if task is not None:
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await work
    except BaseException:
        if stopped:
            raise Interrupted(signal.Signals(stopped[0]).name) from None
        raise
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run_bench(
    name: str, work: Callable[[], Coroutine[Any, Any, dict[str, Any]]], as_json: bool
) -> int:
    """Run a bench's `main_async`: its JSON on stdout with `--json`; a failure or an
    interruption as one line on stderr and exit code 1 or 130."""
    from devtools.stack import StackError

    try:
        figures = asyncio.run(work())
    except (BenchError, StackError) as exc:
        Console(stderr=True).print(f"[red]{name} benchmark failed:[/] {exc}")
        return 1
    except (Interrupted, KeyboardInterrupt, asyncio.CancelledError) as exc:
        Console(stderr=True).print(
            f"[yellow]interrupted ({exc or 'SIGINT'}); everything started was stopped[/]"
        )
        return 130
    if as_json:
        print_json(figures)
    return 0
