"""Top-level commands that run things: `up`, `worker`, `demo` and `setup`.

`up` and `demo` start the embedded stack through casework.stack.running_stack;
`worker` runs one worker against a Temporal and PostgreSQL that already run.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.panel import Panel
from rich.table import Table

from casework.cli.output import JsonOption, console, emit, fail, run
from casework.db import apply_migrations, database_url
from casework.demo import DemoResult, run_event_store_demo
from casework.logs import get_logger
from casework.settings import Settings, get_settings
from casework.stack import StackError, ensure_search_attributes, redact, running_stack
from casework.temporal import connect
from worker import run_worker

app = typer.Typer()

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """Ctrl-C / SIGTERM handling for long-running commands.

    The first signal sets `event` (a running command then stops cleanly); before the
    command has reached its steady state (`ready`), it also cancels the command's
    task so a slow start-up is abandoned, still cleanly.
    """

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.ready = False
        self.task = asyncio.current_task()
        self.interrupted = False

    def handle(self, signum: int) -> None:
        log = get_logger()
        if self.event.is_set():
            log.warning("already stopping; please wait", signal=signal.Signals(signum).name)
            return
        log.info("stopping", signal=signal.Signals(signum).name)
        self.event.set()
        if not self.ready and self.task is not None:
            self.interrupted = True
            self.task.cancel()

    def absorb_cancel(self) -> None:
        """Call on CancelledError: swallow it if our own signal caused it, else re-raise."""
        if not self.interrupted or self.task is None:
            raise asyncio.CancelledError
        self.task.uncancel()


@contextmanager
def signal_stop() -> Iterator[SignalStop]:
    loop = asyncio.get_running_loop()
    stopper = SignalStop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopper.handle, sig)
    try:
        yield stopper
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


# --- casework up ----------------------------------------------------------------------


def _render_ready(info: dict[str, Any]) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Temporal UI", f"[link={info['temporal_ui']}]{info['temporal_ui']}[/link]")
    table.add_row(
        "Temporal", f"{info['temporal_address']} (namespace {info['temporal_namespace']})"
    )
    table.add_row("Task queue", info["task_queue"])
    table.add_row("Database", info["database"])
    table.add_row("psql", info["psql"])
    table.add_row("Services", ", ".join(info["services"]))
    table.add_row("Data", info["data_dir"])
    console.print(Panel(table, title="Casework is up", border_style="green", expand=False))
    console.print("Press Ctrl-C to stop; the data stays for the next run.")


async def _up(settings: Settings, as_json: bool) -> None:
    with signal_stop() as stopper:
        try:
            async with running_stack(settings) as stack:
                stopper.ready = True
                emit({"status": "ready", **stack.info()}, as_json, _render_ready)
                await stack.wait(stopper.event)
        except asyncio.CancelledError:
            stopper.absorb_cancel()
            get_logger().info("start-up interrupted; everything started was stopped")
            return
    if not as_json:
        console.print("Casework stopped.")


@app.command("up")
def up_command(as_json: bool = JsonOption) -> None:
    """Run the embedded stack in the foreground: PostgreSQL, Temporal, worker (Ctrl-C stops)."""
    try:
        run(_up(get_settings(), as_json))
    except StackError as exc:
        fail(str(exc), as_json)


# --- casework worker ------------------------------------------------------------------


async def _worker(settings: Settings, dsn: str) -> None:
    with signal_stop() as stopper:
        stopper.ready = True  # the worker drains on the event even while connecting
        await run_worker(settings, dsn=dsn, shutdown=stopper.event)


@app.command("worker")
def worker_command(as_json: bool = JsonOption) -> None:
    """Run one worker on the case task queue against TEMPORAL_ADDRESS and DATABASE_URL."""
    settings = get_settings()
    dsn = database_url(settings)
    emit(
        {
            "status": "starting",
            "temporal_address": settings.temporal_address,
            "temporal_namespace": settings.temporal_namespace,
            "task_queue": settings.task_queue,
            "database": redact(dsn),
        },
        as_json,
        lambda d: console.print(
            f"worker for task queue [bold]{d['task_queue']}[/] on Temporal "
            f"{d['temporal_address']} and {d['database']} (Ctrl-C stops)"
        ),
    )
    try:
        run(_worker(settings, dsn))
    except (OSError, RuntimeError) as exc:
        fail(f"the worker could not run: {exc}", as_json)


# --- casework demo --------------------------------------------------------------------


def _demo_data(result: DemoResult) -> dict[str, Any]:
    return {
        "ok": result.verify.ok,
        "cases": [
            {
                "stream_id": c.stream_id,
                "client_ref": c.client_ref,
                "events": [
                    {
                        "version": e.version,
                        "type": e.event_type,
                        "actor": e.actor_id,
                        "global_position": e.global_position,
                    }
                    for e in c.events
                ],
                "last_version": c.last_version,
                "last_position": c.last_position,
            }
            for c in result.cases
        ],
        "verify": {
            "ok": result.verify.ok,
            "streams": result.verify.streams,
            "events": result.verify.events,
            "findings": [str(f) for f in result.verify.findings],
        },
    }


def _render_demo(data: dict[str, Any]) -> None:
    table = Table(title="Two cases recorded in the event log", title_justify="left")
    table.add_column("client")
    table.add_column("v", justify="right")
    table.add_column("event")
    table.add_column("recorded by")
    table.add_column("position", justify="right")
    for case in data["cases"]:
        for i, event in enumerate(case["events"]):
            table.add_row(
                case["client_ref"] if i == 0 else "",
                str(event["version"]),
                event["type"],
                event["actor"],
                str(event["global_position"]),
                end_section=i == len(case["events"]) - 1,
            )
    console.print(table)
    for case in data["cases"]:
        console.print(f"  {case['client_ref']}: stream [bold]{case['stream_id']}[/]")
    verify = data["verify"]
    if verify["ok"]:
        console.print(
            f"[green]hash chains intact[/]: {verify['events']} events in "
            f"{verify['streams']} streams verified"
        )
    else:
        console.print(f"[bold red]broken hash chain[/]: {verify['findings'][0]}")
    console.print(
        "Explore: [bold]make up[/] (or [bold]casework up[/]) keeps the stack running; "
        "[bold]casework verify[/] re-checks every chain."
    )


async def _demo(settings: Settings) -> DemoResult | None:
    with signal_stop() as stopper:
        try:
            async with running_stack(settings) as stack:
                return await run_event_store_demo(stack.pool)
        except asyncio.CancelledError:
            stopper.absorb_cancel()
            return None


@app.command("demo")
def demo_command(as_json: bool = JsonOption) -> None:
    """Start the embedded stack, record two cases' events, verify the log, stop."""
    try:
        result = run(_demo(get_settings()))
    except StackError as exc:
        fail(str(exc), as_json)
    if result is None:
        fail("interrupted", as_json, code=130)
    data = _demo_data(result)
    emit(data, as_json, _render_demo)
    if not result.verify.ok:
        raise typer.Exit(1)


# --- casework setup -------------------------------------------------------------------


async def _setup(settings: Settings) -> dict[str, Any]:
    applied = await apply_migrations(database_url(settings))
    client = await connect(settings)
    added = await ensure_search_attributes(client, settings.temporal_namespace)
    return {"ok": True, "migrations_applied": applied, "search_attributes_added": added}


@app.command("setup")
def setup_command(as_json: bool = JsonOption) -> None:
    """Prepare existing servers: apply migrations, register the case search attributes.

    For deployments where PostgreSQL and Temporal run on their own (docker-compose.yml
    runs it once before the workers); `casework up` does this itself. Safe to rerun.
    """
    settings = get_settings()
    try:
        data = run(_setup(settings))
    except (OSError, RuntimeError) as exc:
        fail(f"setup failed: {exc}", as_json)
    emit(
        data,
        as_json,
        lambda d: console.print(
            f"migrations applied: {len(d['migrations_applied'])}; "
            f"search attributes added: {', '.join(d['search_attributes_added']) or 'none'}"
        ),
    )
